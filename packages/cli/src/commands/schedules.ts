import type { ScheduledMessage, ScheduleStore } from '@omnibus/core';
import { describeDestination } from '@omnibus/core';
import { SqliteScheduleStore } from '@omnibus/sqlite';
import type { Command, CommandGroup, CommandIo, OptionValues } from '../command.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../command.js';
import type { TableCheck } from './database-option.js';
import { databaseHelp, databaseOptions, openDatabase } from './database-option.js';

interface OpenStore {
  readonly store: ScheduleStore;
  close(): Promise<void>;
}

const TABLE: TableCheck = {
  sqliteTable: 'omnibus_schedules',
  postgresTable: (persistence) => persistence.schema.schedules,
  missingInSqlite: (path) => `${path} has no scheduled-messages table: run omnibus migrate --sqlite first`,
  missingInPostgres: 'this database has no scheduled-messages table: run omnibus migrate first',
};

async function openStore(options: OptionValues, io: CommandIo): Promise<OpenStore> {
  const database = await openDatabase(options, io, TABLE);
  return {
    store:
      database.kind === 'sqlite' ? new SqliteScheduleStore(database.session) : database.persistence.schedules,
    close: () => database.close(),
  };
}

async function withStore(
  options: OptionValues,
  io: CommandIo,
  work: (store: ScheduleStore) => Promise<number>,
): Promise<number> {
  const opened = await openStore(options, io);
  try {
    return await work(opened.store);
  } finally {
    await opened.close();
  }
}

function requiredId(options: OptionValues): string {
  const id = options.id;
  if (typeof id !== 'string' || id.length === 0) throw new UsageError('--id <schedule id> is required');
  return id;
}

function parseTime(text: string, option: string): Date {
  const time = new Date(text);
  if (!Number.isFinite(time.getTime()))
    throw new UsageError(`${option} must be an ISO date-time, got ${text}`);
  return time;
}

function summary(schedule: ScheduledMessage): string {
  const key = schedule.envelope.key === undefined ? '' : `  key=${schedule.envelope.key}`;
  return `${schedule.id}  ${schedule.deliverAt.toISOString()}  ${schedule.envelope.type}  ${describeDestination(schedule.destination)}${key}`;
}

const list: Command = {
  name: 'list',
  summary: 'scheduled messages still waiting, earliest due first',
  options: {
    ...databaseOptions,
    type: { type: 'string' },
    'due-before': { type: 'string' },
    limit: { type: 'string' },
  },
  optionHelp: [
    ...databaseHelp,
    '--type <type>      only messages of this type',
    '--due-before <t>   only messages due before this ISO date-time',
    '--limit <n>        at most this many (default 100)',
  ],
  async run(options, io) {
    const limit = options.limit === undefined ? 100 : Number(options.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive integer');
    const dueBefore =
      options['due-before'] === undefined
        ? undefined
        : parseTime(String(options['due-before']), '--due-before');
    return withStore(options, io, async (store) => {
      const found = await store.list({
        limit,
        ...(options.type === undefined ? {} : { type: String(options.type) }),
        ...(dueBefore === undefined ? {} : { dueBefore }),
      });
      for (const schedule of found) io.stdout(summary(schedule));
      if (found.length === 0) io.stderr('no scheduled messages');
      return EXIT_OK;
    });
  },
};

const show: Command = {
  name: 'show',
  summary: 'one scheduled message in full (JSON): headers, and the body as text when it is UTF-8',
  options: { ...databaseOptions, id: { type: 'string' } },
  optionHelp: [...databaseHelp, '--id <id>          the schedule id'],
  async run(options, io) {
    const id = requiredId(options);
    return withStore(options, io, async (store) => {
      const schedule = await store.get(id);
      if (schedule === undefined) {
        io.stderr(`no scheduled message ${id} (released, cancelled, or never made)`);
        return EXIT_FAILURE;
      }
      const body = Buffer.from(schedule.envelope.body);
      const text = body.toString('utf8');
      const utf8 = Buffer.from(text, 'utf8').equals(body);
      io.stdout(
        JSON.stringify(
          {
            id: schedule.id,
            deliverAt: schedule.deliverAt.toISOString(),
            createdAt: schedule.createdAt.toISOString(),
            destination: describeDestination(schedule.destination),
            messageId: schedule.envelope.id,
            type: schedule.envelope.type,
            ...(schedule.envelope.key === undefined ? {} : { key: schedule.envelope.key }),
            headers: schedule.envelope.headers,
            ...(utf8 ? { body: text } : { bodyBase64: body.toString('base64') }),
          },
          null,
          2,
        ),
      );
      return EXIT_OK;
    });
  },
};

const cancel: Command = {
  name: 'cancel',
  summary: 'cancel a waiting message: exit 0 only if it will never be delivered',
  options: { ...databaseOptions, id: { type: 'string' } },
  optionHelp: [...databaseHelp, '--id <id>          the schedule id'],
  async run(options, io) {
    const id = requiredId(options);
    return withStore(options, io, async (store) => {
      if (await store.cancel(id)) {
        io.stdout(`cancelled ${id}`);
        return EXIT_OK;
      }
      io.stderr(`${id} is not waiting: released already (it is or will be delivered), or unknown`);
      return EXIT_FAILURE;
    });
  },
};

const reschedule: Command = {
  name: 'reschedule',
  summary: 'move a waiting message to another time (a time in the past releases it at once)',
  options: { ...databaseOptions, id: { type: 'string' }, at: { type: 'string' } },
  optionHelp: [
    ...databaseHelp,
    '--id <id>          the schedule id',
    '--at <t>           the new due time, an ISO date-time',
  ],
  async run(options, io) {
    const id = requiredId(options);
    if (typeof options.at !== 'string') throw new UsageError('--at <ISO date-time> is required');
    const at = parseTime(options.at, '--at');
    return withStore(options, io, async (store) => {
      if (await store.reschedule(id, at)) {
        io.stdout(`rescheduled ${id} to ${at.toISOString()}`);
        return EXIT_OK;
      }
      io.stderr(`${id} is not waiting: released already, cancelled, or unknown`);
      return EXIT_FAILURE;
    });
  },
};

export const schedulesCommands: CommandGroup = {
  name: 'schedules',
  summary: 'scheduled messages: list, show, cancel, reschedule',
  commands: [list, show, cancel, reschedule],
};
