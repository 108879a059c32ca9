import type { SagaRecord, SagaStore } from '@omnibus/core';
import { DeserializationError } from '@omnibus/core';
import { PostgresSagaStore } from '@omnibus/postgres';
import type { SagaInspection } from '@omnibus/saga';
import { inspectSaga } from '@omnibus/saga';
import { SqliteSagaStore } from '@omnibus/sqlite';
import type { Command, CommandGroup, CommandIo, OptionValues } from '../command.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../command.js';
import type { TableCheck } from './database-option.js';
import { databaseHelp, databaseOptions, openDatabase } from './database-option.js';

interface OpenStore {
  readonly store: SagaStore;
  close(): Promise<void>;
}

/** Read-only in effect: no migration, no purge. */
const TABLE: TableCheck = {
  sqliteTable: 'omnibus_sagas',
  postgresTable: (persistence) => `${persistence.schema.quoted}.omnibus_sagas`,
  missingInSqlite: (path) => `${path} has no saga table: no SqliteSagaStore has started on it`,
  missingInPostgres: 'this database has no saga table: no PostgresSagaStore has started on it',
};

async function openStore(options: OptionValues, io: CommandIo): Promise<OpenStore> {
  const database = await openDatabase(options, io, TABLE);
  return {
    store:
      database.kind === 'sqlite'
        ? new SqliteSagaStore({ unitOfWork: database.session })
        : new PostgresSagaStore(database.persistence),
    close: () => database.close(),
  };
}

async function withStore(
  options: OptionValues,
  io: CommandIo,
  work: (store: SagaStore) => Promise<number>,
): Promise<number> {
  const opened = await openStore(options, io);
  try {
    return await work(opened.store);
  } finally {
    await opened.close();
  }
}

function required(options: OptionValues, name: string, what: string): string {
  const value = options[name];
  if (typeof value !== 'string' || value.length === 0)
    throw new UsageError(`--${name} <${what}> is required`);
  return value;
}

/** The runtime's document in `data` decoded, or undefined if it is not one. */
function inspected(record: SagaRecord): SagaInspection | undefined {
  try {
    return inspectSaga(record);
  } catch (error) {
    if (error instanceof DeserializationError) return undefined;
    throw error;
  }
}

function summary(record: SagaRecord): string {
  const timeouts = inspected(record)?.timeouts ?? [];
  const pending =
    timeouts.length === 0
      ? ''
      : `  timeouts=${timeouts.map((t) => `${t.name}@${t.dueAt.toISOString()}`).join(',')}`;
  return `${record.key}  ${record.status}  v${record.version}  ${record.updatedAt.toISOString()}${pending}`;
}

const list: Command = {
  name: 'list',
  summary: 'instances of a saga, newest update first',
  options: {
    ...databaseOptions,
    saga: { type: 'string' },
    status: { type: 'string' },
    limit: { type: 'string' },
  },
  optionHelp: [
    ...databaseHelp,
    '--saga <name>      the saga (its @Saga({ name }))',
    '--status <s>       only running or only completed instances',
    '--limit <n>        at most this many (default 100)',
  ],
  async run(options, io) {
    const saga = required(options, 'saga', 'name');
    const status = options.status as string | undefined;
    if (status !== undefined && status !== 'running' && status !== 'completed') {
      throw new UsageError(`--status must be running or completed, got ${status}`);
    }
    const limit = options.limit === undefined ? 100 : Number(options.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive integer');
    return withStore(options, io, async (store) => {
      const found = await store.list(saga, {
        limit,
        ...(status === undefined ? {} : { status: status }),
      });
      for (const record of found) io.stdout(summary(record));
      if (found.length === 0) io.stderr(`no instances of ${saga}`);
      return EXIT_OK;
    });
  },
};

const show: Command = {
  name: 'show',
  summary:
    'one saga instance in full (JSON): state, pending timeouts, recorded compensations, its last 50 steps',
  options: { ...databaseOptions, saga: { type: 'string' }, key: { type: 'string' } },
  optionHelp: [
    ...databaseHelp,
    '--saga <name>      the saga (its @Saga({ name }))',
    '--key <key>        the instance: its correlation key',
  ],
  async run(options, io) {
    const saga = required(options, 'saga', 'name');
    const key = required(options, 'key', 'correlation key');
    return withStore(options, io, async (store) => {
      const record = await store.get(saga, key);
      if (record === undefined) {
        io.stderr(`no instance ${key} of ${saga} (never started, or completed and purged)`);
        return EXIT_FAILURE;
      }
      const document = inspected(record);
      io.stdout(
        JSON.stringify(
          {
            saga: record.saga,
            key: record.key,
            status: record.status,
            version: record.version,
            createdAt: record.createdAt.toISOString(),
            updatedAt: record.updatedAt.toISOString(),
            ...(record.completedAt === undefined ? {} : { completedAt: record.completedAt.toISOString() }),
            ...(document === undefined
              ? { unreadable: true, data: record.data }
              : {
                  state: document.state,
                  pendingTimeouts: document.timeouts,
                  compensations: document.compensations,
                  compensated: document.compensated,
                  history: document.history,
                }),
          },
          null,
          2,
        ),
      );
      if (document === undefined) io.stderr(`${saga} ${key}: the stored data is not a saga document`);
      return document === undefined ? EXIT_FAILURE : EXIT_OK;
    });
  },
};

export const sagasCommands: CommandGroup = {
  name: 'sagas',
  summary: 'saga instances: list, show',
  commands: [list, show],
};
