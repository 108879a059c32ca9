import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import type { SagaListOptions, SagaRecord, SagaStatus, SagaStore } from '@omnibus/core';
import { ConcurrencyError } from '@omnibus/core';
import { persistenceError } from './sqlite-errors.js';
import type { SqliteMigration } from './sqlite-migrations.js';
import { applySqliteMigrations } from './sqlite-migrations.js';
import type { SqlitePersistence } from './sqlite-persistence.js';
import type { SqliteSession } from './sqlite-session.js';

/** The saga table (component `saga`). Times are Unix milliseconds. */
export const sagaMigrations: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'saga instances',
    sql: `
      CREATE TABLE omnibus_sagas (
        saga TEXT NOT NULL,
        saga_key TEXT NOT NULL,
        version INTEGER NOT NULL,
        status TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        completed_at INTEGER,
        PRIMARY KEY (saga, saga_key)
      ) WITHOUT ROWID;
      CREATE INDEX omnibus_sagas_by_status ON omnibus_sagas (saga, status, updated_at);
      CREATE INDEX omnibus_sagas_completed ON omnibus_sagas (completed_at) WHERE completed_at IS NOT NULL;
    `,
  },
];

/**
 * Saga state in the persistence's SQLite file. Units of work on one file are serialised (`BEGIN
 * IMMEDIATE`), so two steps of one instance never overlap: the version check still guards against a
 * writer that loaded outside the transaction. `start()` creates the table (safe from several processes).
 */
export class SqliteSagaStore implements SagaStore<DatabaseSync> {
  readonly #session: SqliteSession;

  /** On a persistence, or on a bare session (the CLI reads a file without opening the persistence). */
  constructor(persistence: Pick<SqlitePersistence, 'unitOfWork'>) {
    this.#session = persistence.unitOfWork;
  }

  /** Applies the saga migrations; call after `SqlitePersistence.start()`, before the bus starts. */
  async start(): Promise<void> {
    await this.#session.read('saga migrate', (database) =>
      applySqliteMigrations(database, 'saga', sagaMigrations),
    );
  }

  async load(tx: DatabaseSync, saga: string, key: string): Promise<SagaRecord | undefined> {
    const row = this.#statement(tx, SELECT).get(saga, key);
    return row === undefined ? undefined : toRecord(row);
  }

  async save(tx: DatabaseSync, record: SagaRecord, expectedVersion: number): Promise<void> {
    const changes =
      expectedVersion === 0
        ? this.#statement(tx, INSERT).run(
            record.saga,
            record.key,
            record.version,
            record.status,
            record.data,
            record.createdAt.getTime(),
            record.updatedAt.getTime(),
            record.completedAt?.getTime() ?? null,
          ).changes
        : this.#statement(tx, UPDATE).run(
            record.version,
            record.status,
            record.data,
            record.updatedAt.getTime(),
            record.completedAt?.getTime() ?? null,
            record.saga,
            record.key,
            expectedVersion,
          ).changes;
    if (Number(changes) !== 1) {
      throw new ConcurrencyError(
        `saga ${record.saga} instance ${record.key}: version ${expectedVersion} was saved by another step`,
      );
    }
  }

  async get(saga: string, key: string): Promise<SagaRecord | undefined> {
    return this.#session.read('saga get', (database) => {
      const row = this.#statement(database, SELECT).get(saga, key);
      return row === undefined ? undefined : toRecord(row);
    });
  }

  async list(saga: string, options: SagaListOptions = {}): Promise<SagaRecord[]> {
    const limit = options.limit ?? 100;
    return this.#session.read('saga list', (database) =>
      (options.status === undefined
        ? this.#statement(database, LIST).all(saga, limit)
        : this.#statement(database, LIST_BY_STATUS).all(saga, options.status, limit)
      ).map(toRecord),
    );
  }

  async count(saga: string): Promise<Record<SagaStatus, number>> {
    return this.#session.read('saga count', (database) => {
      const counts = { running: 0, completed: 0 };
      for (const row of this.#statement(database, COUNT).all(saga) as { status: SagaStatus; n: number }[]) {
        counts[row.status] = Number(row.n);
      }
      return counts;
    });
  }

  async purgeCompleted(before: Date): Promise<number> {
    return this.#session.write('saga purge', (database) =>
      Number(this.#statement(database, PURGE).run(before.getTime()).changes),
    );
  }

  #statement(tx: DatabaseSync, sql: string) {
    try {
      return tx === this.#session.database ? this.#session.statement(sql) : tx.prepare(sql);
    } catch (error) {
      throw persistenceError(error, 'saga statement');
    }
  }
}

const COLUMNS = 'saga, saga_key, version, status, data, created_at, updated_at, completed_at';
const SELECT = `SELECT ${COLUMNS} FROM omnibus_sagas WHERE saga = ? AND saga_key = ?`;
const INSERT = `INSERT INTO omnibus_sagas (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`;
const UPDATE = `UPDATE omnibus_sagas SET version = ?, status = ?, data = ?, updated_at = ?, completed_at = ?
  WHERE saga = ? AND saga_key = ? AND version = ?`;
const LIST = `SELECT ${COLUMNS} FROM omnibus_sagas WHERE saga = ? ORDER BY updated_at DESC, saga_key LIMIT ?`;
const LIST_BY_STATUS = `SELECT ${COLUMNS} FROM omnibus_sagas WHERE saga = ? AND status = ?
  ORDER BY updated_at DESC, saga_key LIMIT ?`;
const COUNT = 'SELECT status, count(*) AS n FROM omnibus_sagas WHERE saga = ? GROUP BY status';
const PURGE = 'DELETE FROM omnibus_sagas WHERE completed_at IS NOT NULL AND completed_at < ?';

/** A row as node:sqlite returns it: these columns are TEXT and INTEGER, never blobs. */
function toRecord(row: Record<string, SQLInputValue>): SagaRecord {
  const text = (value: SQLInputValue | undefined): string => value as string;
  const completedAt = row.completed_at;
  return {
    saga: text(row.saga),
    key: text(row.saga_key),
    version: Number(row.version),
    status: text(row.status) as SagaStatus,
    data: text(row.data),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
    ...(completedAt === null || completedAt === undefined
      ? {}
      : { completedAt: new Date(Number(completedAt)) }),
  };
}
