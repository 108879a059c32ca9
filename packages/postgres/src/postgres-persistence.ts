import type { Logger, Persistence } from '@omnibus/core';
import { ConfigurationError, defaultLogger, toOmnibusError } from '@omnibus/core';
import type { PoolClient } from 'pg';
import pg from 'pg';
import { PostgresCommitHooks } from './postgres-commit-hooks.js';
import { persistenceError } from './postgres-errors.js';
import { PostgresInbox } from './postgres-inbox.js';
import { applyPostgresMigrations, outboxInboxMigrations } from './postgres-migrations.js';
import { PostgresOutbox } from './postgres-outbox.js';
import { PostgresScheduleStore, scheduleMigrations } from './postgres-schedule-store.js';
import { PostgresSchema } from './postgres-schema.js';
import { PostgresUnitOfWork } from './postgres-unit-of-work.js';
import { coalesceWrites } from './postgres-write-coalescing.js';

export interface PostgresConnectionOptions {
  /** The application's pool: its queries and the framework's share connections. Not closed by us. */
  readonly pool?: pg.Pool;
  /** Or a connection string (`postgres://user@host:5432/db`): a pool is created and owned. */
  readonly connectionString?: string;
  /**
   * Whether the pool made from `connectionString` pipelines (pg's `pipeline`): a handling's `BEGIN` then
   * goes out with its first statement and its outbox insert with `COMMIT`, two round trips fewer. Such a
   * client refuses queries with a `rows` option and cursors (pg-cursor, pg-query-stream): say `false`
   * if the application runs those on `ctx.tx`. A given `pool` keeps its own setting. Default true.
   */
  readonly pipeline?: boolean;
  /** Schema of the omnibus tables, created when missing. Default `public`. */
  readonly schema?: string;
}

export interface PostgresPersistenceOptions extends PostgresConnectionOptions {
  /**
   * How long the inbox remembers a handled message id; older records are purged on start and then every
   * `min(inboxRetentionMs, 1 h)`. A duplicate older than this runs its handler again, so keep it longer
   * than any redelivery can take. Default 7 days.
   */
  readonly inboxRetentionMs?: number;
  readonly logger?: Logger;
}

/**
 * Exactly-once effects on PostgreSQL (pg): a unit of work whose `ctx.tx` is the transaction's
 * `PoolClient`, and the inbox, outbox and scheduled-messages tables. `start()` applies the migrations (safe from many
 * processes at once) before use; `close()` ends the pool if it created it.
 */
export class PostgresPersistence implements Persistence<PoolClient> {
  readonly pool: pg.Pool;
  readonly schema: PostgresSchema;
  readonly unitOfWork: PostgresUnitOfWork;
  readonly inbox: PostgresInbox;
  readonly outbox: PostgresOutbox;
  readonly schedules: PostgresScheduleStore;
  readonly #ownsPool: boolean;
  readonly #inboxRetentionMs: number;
  readonly #logger: Logger;
  #purgeTimer: NodeJS.Timeout | undefined;
  #state: 'created' | 'started' | 'closed' = 'created';

  constructor(options: PostgresPersistenceOptions) {
    const connection = resolveConnection(options);
    this.pool = connection.pool;
    this.#ownsPool = connection.owned;
    this.schema = connection.schema;
    this.#inboxRetentionMs = options.inboxRetentionMs ?? 7 * 24 * 3_600_000;
    if (!(this.#inboxRetentionMs > 0)) {
      throw new ConfigurationError('inboxRetentionMs', `must be > 0, got ${String(this.#inboxRetentionMs)}`);
    }
    this.#logger = options.logger ?? defaultLogger();
    if (this.#ownsPool) {
      // An idle client's connection dying emits 'error' on the pool; unheard, it would crash the process.
      this.pool.on('error', (error) =>
        this.#logger.warn({ error: error.message }, 'postgres idle connection lost'),
      );
    }
    const hooks = new PostgresCommitHooks();
    this.unitOfWork = new PostgresUnitOfWork(this.pool, this.#logger, hooks);
    this.inbox = new PostgresInbox(this.pool, this.schema);
    this.outbox = new PostgresOutbox(this.pool, this.schema, this.#logger, hooks);
    this.schedules = new PostgresScheduleStore(this.pool, this.schema, this.#logger);
  }

  /** Applies pending migrations and purges old inbox records; rejects if the database is unreachable. */
  async start(): Promise<void> {
    if (this.#state !== 'created') throw new ConfigurationError('start', `persistence is ${this.#state}`);
    const applied = await migrateWith(this.pool, this.schema);
    if (applied.length > 0)
      this.#logger.info({ applied, schema: this.schema.name }, 'postgres migrations applied');
    this.#state = 'started';
    await this.#purgeInbox();
    this.#purgeTimer = setInterval(
      () => void this.#purgeInbox(),
      Math.min(this.#inboxRetentionMs, 3_600_000),
    );
    this.#purgeTimer.unref();
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearInterval(this.#purgeTimer);
    if (this.#ownsPool) await this.pool.end();
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

/**
 * Brings a database's outbox, inbox and schedules schema up to date and returns the names of the migrations it
 * applied (none when already current). The entry point of `omnibus migrate --postgres <url>`.
 */
export async function migrate(options: PostgresConnectionOptions): Promise<string[]> {
  const connection = resolveConnection(options);
  try {
    return await migrateWith(connection.pool, connection.schema);
  } finally {
    if (connection.owned) await connection.pool.end();
  }
}

async function migrateWith(pool: pg.Pool, schema: PostgresSchema): Promise<string[]> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw persistenceError(error, 'connect');
  }
  try {
    const applied = [
      ...(await applyPostgresMigrations(client, schema, 'outbox-inbox', outboxInboxMigrations)),
      ...(await applyPostgresMigrations(client, schema, 'schedules', scheduleMigrations)),
    ];
    client.release();
    return applied;
  } catch (error) {
    client.release(true);
    throw persistenceError(error, 'migrate');
  }
}

function resolveConnection(options: PostgresConnectionOptions): {
  pool: pg.Pool;
  owned: boolean;
  schema: PostgresSchema;
} {
  if (options === null || typeof options !== 'object')
    throw new ConfigurationError('options', 'must be an object');
  const schema = new PostgresSchema(options.schema ?? 'public');
  if (options.pool !== undefined) {
    if (options.connectionString !== undefined) {
      throw new ConfigurationError('connectionString', 'give either pool or connectionString, not both');
    }
    if (options.pipeline !== undefined) {
      throw new ConfigurationError(
        'pipeline',
        "applies to the pool made from connectionString: set the given pool's own",
      );
    }
    if (typeof (options.pool as Partial<pg.Pool>).connect !== 'function') {
      throw new ConfigurationError('pool', 'must be a pg Pool');
    }
    return { pool: options.pool, owned: false, schema };
  }
  if (typeof options.connectionString !== 'string' || options.connectionString.length === 0) {
    throw new ConfigurationError('connectionString', 'give a connection string or a pg Pool');
  }
  const pipeline = options.pipeline ?? true;
  if (typeof pipeline !== 'boolean') throw new ConfigurationError('pipeline', 'must be a boolean');
  const pool = new pg.Pool({ connectionString: options.connectionString, pipeline });
  return { pool: coalesceWrites(pool), owned: true, schema };
}
