import { DatabaseSync } from 'node:sqlite';
import type { Logger, Persistence } from '@omnibus/core';
import { ConfigurationError, defaultLogger, toOmnibusError } from '@omnibus/core';
import { persistenceError, sqliteErrorCode } from './sqlite-errors.js';
import { SqliteInbox } from './sqlite-inbox.js';
import { applySqliteMigrations, outboxInboxMigrations } from './sqlite-migrations.js';
import { SqliteOutbox } from './sqlite-outbox.js';
import { scheduleMigrations, SqliteScheduleStore } from './sqlite-schedule-store.js';
import { SqliteSession } from './sqlite-session.js';

export interface SqlitePersistenceOptions {
  /** Database file (created when missing). The application's own tables may live in it too. */
  readonly path: string;
  /** How long a write waits for another process's write lock before failing as busy. Default 5 s. */
  readonly busyTimeoutMs?: number;
  /**
   * How long the inbox remembers a handled message id; older records are purged on start and then
   * every `min(inboxRetentionMs, 1 h)`. A duplicate older than this runs its handler again, so keep it
   * longer than any redelivery can take. Default 7 days.
   */
  readonly inboxRetentionMs?: number;
  /**
   * When a commit is on disk (SQLite's `synchronous`, in WAL mode). `'full'`: each commit waits for an
   * fsync of the WAL, so a committed transaction survives a power loss or an OS crash; that fsync
   * blocks the event loop the bus and the relay share (a few ms, tens of ms on a busy disk).
   * `'normal'`: commits do not fsync (the WAL is synced at checkpoints), so a commit survives a process
   * crash or SIGKILL but a power loss or OS crash may undo the last transactions: a message whose
   * handling committed and was acked may then have no effects, and an outbox row may be gone. The
   * database is never corrupted either way. Default `'full'`.
   */
  readonly synchronous?: 'full' | 'normal';
  readonly logger?: Logger;
}

/**
 * Exactly-once effects on an embedded SQLite database (node:sqlite): a unit of work whose `ctx.tx` is the
 * `DatabaseSync` connection, the inbox, outbox and scheduled-messages tables in the same file. WAL mode, so readers in
 * other processes do not block the writer.
 *
 * One connection per instance; units of work take turns on it (SQLite has one writer anyway), so keep
 * them short. Use one instance per file per process: relays and buses of the process share it. Other
 * processes (a relay, the CLI) may open the same file; their writes wait up to `busyTimeoutMs`.
 */
export class SqlitePersistence implements Persistence<DatabaseSync> {
  readonly database: DatabaseSync;
  readonly unitOfWork: SqliteSession;
  readonly inbox: SqliteInbox;
  readonly outbox: SqliteOutbox;
  readonly schedules: SqliteScheduleStore;
  readonly #inboxRetentionMs: number;
  readonly #logger: Logger;
  #purgeTimer: NodeJS.Timeout | undefined;
  #state: 'created' | 'started' | 'closed' = 'created';

  constructor(options: SqlitePersistenceOptions) {
    if (options === null || typeof options !== 'object')
      throw new ConfigurationError('options', 'must be an object');
    if (typeof options.path !== 'string' || options.path.length === 0) {
      throw new ConfigurationError('path', 'must be a non-empty file path');
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? 5_000;
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new ConfigurationError(
        'busyTimeoutMs',
        `must be a non-negative integer, got ${String(busyTimeoutMs)}`,
      );
    }
    this.#inboxRetentionMs = options.inboxRetentionMs ?? 7 * 24 * 3_600_000;
    if (!(this.#inboxRetentionMs > 0)) {
      throw new ConfigurationError('inboxRetentionMs', `must be > 0, got ${String(this.#inboxRetentionMs)}`);
    }
    const synchronous = options.synchronous ?? 'full';
    if (synchronous !== 'full' && synchronous !== 'normal') {
      throw new ConfigurationError('synchronous', `must be 'full' or 'normal', got ${String(synchronous)}`);
    }
    this.#logger = options.logger ?? defaultLogger();
    this.database = openDatabase(options.path, busyTimeoutMs, synchronous);
    this.unitOfWork = new SqliteSession(this.database);
    this.inbox = new SqliteInbox(this.unitOfWork);
    this.outbox = new SqliteOutbox(this.unitOfWork);
    this.schedules = new SqliteScheduleStore(this.unitOfWork);
  }

  /** Applies pending migrations (safe from several processes at once), purges old inbox records. */
  async start(): Promise<void> {
    if (this.#state !== 'created') throw new ConfigurationError('start', `persistence is ${this.#state}`);
    try {
      const applied = applyAll(this.database);
      if (applied.length > 0) this.#logger.info({ applied }, 'sqlite migrations applied');
    } catch (error) {
      throw persistenceError(error, 'migrate');
    }
    this.unitOfWork.markReady();
    this.#state = 'started';
    await this.#purgeInbox();
    this.#purgeTimer = setInterval(
      () => void this.#purgeInbox(),
      Math.min(this.#inboxRetentionMs, 3_600_000),
    );
    this.#purgeTimer.unref();
  }

  /** Waits for the transactions in progress, then closes the connection. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    clearInterval(this.#purgeTimer);
    if (this.#state === 'started') await this.unitOfWork.drain();
    this.#state = 'closed';
    this.database.close();
  }

  async #purgeInbox(): Promise<void> {
    try {
      const purged = await this.inbox.purge(new Date(Date.now() - this.#inboxRetentionMs));
      if (purged > 0) this.#logger.debug({ purged }, 'inbox records purged');
    } catch (error) {
      this.#logger.warn({ error: toOmnibusError(error).message }, 'inbox purge failed');
    }
  }
}

export interface SqliteMigrateOptions {
  readonly path: string;
  readonly busyTimeoutMs?: number;
}

/**
 * Brings a SQLite file's outbox, inbox and schedules schema up to date and returns the names of the migrations it
 * applied (none when already current). The entry point of `omnibus migrate --sqlite <path>`.
 */
export async function migrate(options: SqliteMigrateOptions): Promise<string[]> {
  if (typeof options?.path !== 'string' || options.path.length === 0) {
    throw new ConfigurationError('path', 'must be a non-empty file path');
  }
  const database = openDatabase(options.path, options.busyTimeoutMs ?? 5_000);
  try {
    return applyAll(database);
  } catch (error) {
    throw persistenceError(error, 'migrate');
  } finally {
    database.close();
  }
}

function applyAll(database: DatabaseSync): string[] {
  return [
    ...applySqliteMigrations(database, 'outbox-inbox', outboxInboxMigrations),
    ...applySqliteMigrations(database, 'schedules', scheduleMigrations),
  ];
}

function openDatabase(
  path: string,
  busyTimeoutMs: number,
  synchronous: 'full' | 'normal' = 'full',
): DatabaseSync {
  let database: DatabaseSync;
  try {
    database = new DatabaseSync(path, { timeout: busyTimeoutMs });
  } catch (error) {
    throw persistenceError(error, `open ${path}`);
  }
  try {
    enableWal(database, busyTimeoutMs);
    database.exec(`PRAGMA synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  } catch (error) {
    database.close();
    throw persistenceError(error, 'enable WAL');
  }
  return database;
}

const SQLITE_BUSY = 5;
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Switches a file to WAL, waiting up to `busyTimeoutMs` for other connections. SQLite does not call the
 * busy handler here when another connection holds the write lock of a file still in rollback mode (that
 * wait could deadlock), it fails at once: that is what several processes opening a new file at the same
 * moment meet. So it retries until the busy timeout. It blocks, as the busy timeout itself does.
 */
function enableWal(database: DatabaseSync, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (let waitMs = 1; ; waitMs = Math.min(waitMs * 2, 25)) {
    try {
      database.exec('PRAGMA journal_mode = WAL');
      return;
    } catch (error) {
      if (sqliteErrorCode(error) !== SQLITE_BUSY || Date.now() >= deadline) throw error;
    }
    Atomics.wait(pause, 0, 0, Math.min(waitMs, Math.max(1, deadline - Date.now())));
  }
}
