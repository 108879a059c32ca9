import type {
  Destination,
  Logger,
  OutboxListener,
  ScheduledMessage,
  ScheduleListOptions,
  ScheduleStore,
} from '@omnibus/core';
import { ConfigurationError, describeDestination } from '@omnibus/core';
import type { Pool, PoolClient } from 'pg';
import { persistenceError } from './postgres-errors.js';
import { PostgresListener } from './postgres-listener.js';
import type { PostgresMigration } from './postgres-migrations.js';
import type { PostgresSchema } from './postgres-schema.js';

/** The scheduled-messages table (component `schedules`). */
export const scheduleMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'scheduled messages',
    sql: (s) => `
      CREATE TABLE ${s}.omnibus_schedules (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id text NOT NULL UNIQUE,
        message_id text NOT NULL,
        destination text NOT NULL,
        message_key text,
        type text NOT NULL,
        headers jsonb NOT NULL,
        body bytea NOT NULL,
        deliver_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL
      );
      CREATE INDEX omnibus_schedules_due ON ${s}.omnibus_schedules (deliver_at, seq);
      CREATE INDEX omnibus_schedules_type_due ON ${s}.omnibus_schedules (type, deliver_at, seq);
    `,
  },
];

interface ScheduleRow {
  id: string;
  message_id: string;
  destination: string;
  message_key: string | null;
  type: string;
  headers: Record<string, string>;
  body: Buffer;
  deliver_at: Date;
  created_at: Date;
}

/**
 * Scheduled messages on PostgreSQL, in the persistence's schema next to its outbox.
 *
 * `add` inserts and `pg_notify`s the schedule channel with the earliest due time it added, in the
 * caller's transaction: on commit, relays sleeping until a later time wake (see `listen`).
 *
 * `releaseDue` is one transaction (one round trip): it takes a per-schema advisory lock, so releases from several relays
 * take turns and outbox ids follow due order (per-key order among released messages); it locks the due
 * rows `FOR UPDATE SKIP LOCKED` (a row that a cancel or reschedule is changing right now is left for the
 * next round instead of waited for), deletes them and inserts them into the outbox in due order, in
 * one statement. A `cancel` that meets a row being released waits for that transaction and then finds
 * nothing: false, and the message is in the outbox.
 */
export class PostgresScheduleStore implements ScheduleStore<PoolClient> {
  readonly #sql: ReturnType<typeof statements>;

  constructor(
    private readonly pool: Pool,
    private readonly schema: PostgresSchema,
    private readonly logger: Logger,
  ) {
    this.#sql = statements(schema);
  }

  async add(tx: PoolClient | undefined, messages: readonly ScheduledMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const values = [
      messages.map((m) => m.id),
      messages.map((m) => m.envelope.id),
      messages.map((m) => describeDestination(m.destination)),
      messages.map((m) => m.envelope.key ?? null),
      messages.map((m) => m.envelope.type),
      messages.map((m) => JSON.stringify(m.envelope.headers)),
      messages.map((m) => m.envelope.body),
      messages.map((m) => m.deliverAt),
      messages.map((m) => m.createdAt),
      this.schema.scheduleChannel,
      String(messages.reduce((min, m) => Math.min(min, m.deliverAt.getTime()), Infinity)),
    ];
    if (tx !== undefined) await tx.query(this.#sql.insert, values);
    else await this.#query('schedule add', this.#sql.insert, values);
  }

  async releaseDue(limit: number): Promise<number> {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new ConfigurationError('limit', `must be a positive integer, got ${String(limit)}`);
    }
    // Two statements in one simple query: PostgreSQL runs them as one implicit transaction (the advisory
    // lock is held to its end), in one round trip. Hence literals instead of parameters; both are ours.
    const sql = `${this.#sql.lock}; ${this.#sql.release(limit, new Date().toISOString())}`;
    const results = (await this.#query('schedule release', sql)) as unknown as { rows: { n: string }[] }[];
    return Number(results[1]!.rows[0]!.n);
  }

  async cancel(id: string): Promise<boolean> {
    return (await this.#query('schedule cancel', this.#sql.cancel, [id])).rowCount === 1;
  }

  async reschedule(id: string, deliverAt: Date): Promise<boolean> {
    const { rows } = await this.#query<{ n: string }>('schedule reschedule', this.#sql.reschedule, [
      id,
      deliverAt,
      this.schema.scheduleChannel,
      String(deliverAt.getTime()),
    ]);
    return Number(rows[0]!.n) === 1;
  }

  async list(options: ScheduleListOptions = {}): Promise<ScheduledMessage[]> {
    const limit = options.limit ?? 100;
    const before = options.dueBefore ?? new Date(8.64e15);
    const { rows } =
      options.type === undefined
        ? await this.#query<ScheduleRow>('schedule list', this.#sql.list, [before, limit])
        : await this.#query<ScheduleRow>('schedule list', this.#sql.listByType, [
            options.type,
            before,
            limit,
          ]);
    return rows.map(toScheduled);
  }

  async get(id: string): Promise<ScheduledMessage | undefined> {
    const { rows } = await this.#query<ScheduleRow>('schedule get', this.#sql.get, [id]);
    return rows[0] === undefined ? undefined : toScheduled(rows[0]);
  }

  async nextDueAt(): Promise<Date | undefined> {
    const { rows } = await this.#query<{ deliver_at: Date }>('schedule next due', this.#sql.next, []);
    return rows[0]?.deliver_at;
  }

  async pending(): Promise<number> {
    const { rows } = await this.#query<{ n: string }>('schedule count', this.#sql.count, []);
    return Number(rows[0]!.n);
  }

  /** LISTENs on the schedule channel on a dedicated connection, reconnecting when it drops. */
  async listen(onAdded: (earliest: Date | undefined) => void): Promise<OutboxListener> {
    const listener = new PostgresListener(
      this.pool.options,
      this.schema.scheduleChannel,
      (payload) => {
        const at = Number(payload);
        onAdded(payload === undefined || payload === '' || !Number.isFinite(at) ? undefined : new Date(at));
      },
      this.logger,
    );
    await listener.open();
    return listener;
  }

  async #query<R extends object = object>(doing: string, sql: string, values?: unknown[]) {
    try {
      return await this.pool.query<R>(sql, values);
    } catch (error) {
      throw persistenceError(error, doing);
    }
  }
}

const COLUMNS = 'id, message_id, destination, message_key, type, headers, body, deliver_at, created_at';

function statements(schema: PostgresSchema) {
  const table = schema.schedules;
  return {
    insert: `
      WITH inserted AS (
        INSERT INTO ${table} (${COLUMNS})
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[],
          $7::bytea[], $8::timestamptz[], $9::timestamptz[])
      )
      SELECT pg_notify($10, $11)`,
    lock: `SELECT pg_advisory_xact_lock(hashtextextended('omnibus:release:${schema.name}', 0))`,
    release: (limit: number, now: string) => `
      WITH due AS (
        SELECT seq FROM ${table} WHERE deliver_at <= '${now}'::timestamptz ORDER BY deliver_at, seq
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      ), moved AS (
        DELETE FROM ${table} s USING due WHERE s.seq = due.seq
        RETURNING s.seq, s.message_id, s.destination, s.message_key, s.type, s.headers, s.body, s.deliver_at
      ), inserted AS (
        INSERT INTO ${schema.outbox} (message_id, destination, message_key, type, headers, body)
        SELECT message_id, destination, message_key, type, headers, body FROM moved
        ORDER BY deliver_at, seq
        RETURNING 1
      )
      SELECT count(*) AS n FROM inserted`,
    cancel: `DELETE FROM ${table} WHERE id = $1`,
    reschedule: `
      WITH moved AS (UPDATE ${table} SET deliver_at = $2 WHERE id = $1 RETURNING 1)
      SELECT (SELECT count(*) FROM moved) AS n, pg_notify($3, $4)`,
    list: `SELECT ${COLUMNS} FROM ${table} WHERE deliver_at < $1 ORDER BY deliver_at, seq LIMIT $2`,
    listByType: `SELECT ${COLUMNS} FROM ${table} WHERE type = $1 AND deliver_at < $2
      ORDER BY deliver_at, seq LIMIT $3`,
    get: `SELECT ${COLUMNS} FROM ${table} WHERE id = $1`,
    next: `SELECT deliver_at FROM ${table} ORDER BY deliver_at, seq LIMIT 1`,
    count: `SELECT count(*) AS n FROM ${table}`,
  };
}

function toScheduled(row: ScheduleRow): ScheduledMessage {
  return {
    id: row.id,
    destination: parseDestination(row.destination),
    envelope: {
      id: row.message_id,
      type: row.type,
      headers: row.headers,
      body: row.body,
      ...(row.message_key === null ? {} : { key: row.message_key }),
    },
    deliverAt: row.deliver_at,
    createdAt: row.created_at,
  };
}

/** The inverse of `describeDestination` (`channel:orders`, `queue:payments`). */
function parseDestination(text: string): Destination {
  const colon = text.indexOf(':');
  const name = text.slice(colon + 1);
  return text.slice(0, colon) === 'queue'
    ? { kind: 'queue', queue: name }
    : { kind: 'channel', channel: name };
}
