import type {
  Destination,
  Envelope,
  Logger,
  OutboxBacklog,
  OutboxListener,
  OutboxMessage,
  OutboxRecord,
  OutboxStore,
} from '@omnibus/core';
import { describeDestination } from '@omnibus/core';
import type { Pool, PoolClient } from 'pg';
import type { PostgresCommitHooks } from './postgres-commit-hooks.js';
import { persistenceError } from './postgres-errors.js';
import { PostgresListener } from './postgres-listener.js';
import type { PostgresSchema } from './postgres-schema.js';

interface OutboxRow {
  id: string;
  message_id: string;
  destination: string;
  message_key: string | null;
  type: string;
  headers: Record<string, string>;
  body: Buffer;
  created_at: Date;
  attempts: number;
}

/**
 * The outbox table on PostgreSQL.
 *
 * `add` inserts the rows in the caller's transaction. In a unit of work it `pg_notify`s the schema's
 * channel once the transaction has committed, one notification for all the commits since its last
 * one went out: a transaction that NOTIFYs takes a database-wide lock while it commits, which would
 * serialise every handling's commit (and its WAL flush) behind every other's. In an application's own transaction
 * (no unit of work) it `pg_notify`s inside it, so the notification goes out on commit.
 *
 * `claim` is one statement, safe to run from many relays at once without a global lock. It locks
 * candidate rows `FOR UPDATE SKIP LOCKED` (pending, lease free or expired, no earlier row of the key
 * under a live lease), then keeps only those whose every earlier pending row of the key is among the
 * rows it locked itself, and leases them. A row another relay is claiming at that moment is locked by it,
 * so the later rows of its key fail the second test here: per key, a claim is always a prefix of the
 * pending rows, and two relays never hold one key.
 */
export class PostgresOutbox implements OutboxStore<PoolClient> {
  readonly #sql: ReturnType<typeof statements>;
  #notifying = false;
  #notifyAgain = false;

  constructor(
    private readonly pool: Pool,
    private readonly schema: PostgresSchema,
    private readonly logger: Logger,
    private readonly hooks: PostgresCommitHooks,
  ) {
    this.#sql = statements(schema);
  }

  async add(tx: PoolClient, messages: readonly OutboxMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const values = [
      messages.map((m) => m.envelope.id),
      messages.map((m) => describeDestination(m.destination)),
      messages.map((m) => m.envelope.key ?? null),
      messages.map((m) => m.envelope.type),
      messages.map((m) => JSON.stringify(m.envelope.headers)),
      messages.map((m) => m.envelope.body),
    ];
    if (!this.hooks.has(tx)) {
      await tx.query({ ...this.#sql.insertAndNotify, values: [...values, this.schema.channel] });
      return;
    }
    // One row (a handling's usual one event) as plain VALUES: the unnest plan costs PostgreSQL more.
    const insert =
      messages.length === 1
        ? { ...this.#sql.insertOne, values: values.map((column): unknown => column[0]) }
        : { ...this.#sql.insert, values };
    await this.hooks.send(tx, tx.query(insert));
    this.hooks.afterCommit(tx, () => this.#notify());
  }

  /** One notification at a time; commits while one is on its way get one more after it. */
  #notify(): void {
    if (this.#notifying) {
      this.#notifyAgain = true;
      return;
    }
    this.#notifying = true;
    this.pool
      .query({ ...this.#sql.notify, values: [this.schema.channel, ''] })
      .catch((error: unknown) =>
        // The other relays' polling covers a lost notification.
        this.logger.warn({ error: persistenceError(error, 'notify').message }, 'outbox notify failed'),
      )
      .finally(() => {
        this.#notifying = false;
        if (this.#notifyAgain) {
          this.#notifyAgain = false;
          this.#notify();
        }
      });
  }

  async claim(owner: string, limit: number, leaseMs: number): Promise<OutboxRecord[]> {
    const { rows } = await this.#query<OutboxRow>('outbox claim', this.#sql.claim, [owner, limit, leaseMs]);
    return rows.map(toRecord).sort((a, b) => compareIds(a.id, b.id));
  }

  async markPublished(ids: readonly string[], keep: boolean): Promise<void> {
    if (ids.length === 0) return;
    await this.#query('outbox mark published', keep ? this.#sql.markKept : this.#sql.delete, [ids]);
  }

  async release(owner: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#query('outbox release', this.#sql.release, [ids, owner]);
  }

  async markFailed(owner: string, id: string, reason: string): Promise<void> {
    await this.#query('outbox mark failed', this.#sql.markFailed, [id, owner, reason]);
  }

  async purgePublished(before: Date): Promise<number> {
    return (await this.#query('outbox purge', this.#sql.purge, [before])).rowCount ?? 0;
  }

  async backlog(): Promise<OutboxBacklog> {
    const { rows } = await this.#query<{ pending: string; oldest: Date | null; failed: string }>(
      'outbox backlog',
      this.#sql.backlog,
      [],
    );
    const row = rows[0]!;
    return {
      pending: Number(row.pending),
      oldestPendingAt: row.oldest ?? undefined,
      failed: Number(row.failed),
    };
  }

  /** LISTENs on a dedicated connection (not one of the pool's), reconnecting when it drops. */
  async listen(onCommit: () => void): Promise<OutboxListener> {
    const listener = new PostgresListener(this.pool.options, this.schema.channel, onCommit, this.logger);
    await listener.open();
    return listener;
  }

  async #query<R extends object = object>(doing: string, sql: Statement, values: unknown[]) {
    try {
      return await this.pool.query<R>({ ...sql, values });
    } catch (error) {
      throw persistenceError(error, doing);
    }
  }
}

/** A statement, prepared when named. */
interface Statement {
  readonly name?: string;
  readonly text: string;
}

function statements(schema: PostgresSchema) {
  const table = schema.outbox;
  const pending = (alias: string): string => `${alias}.published_at IS NULL AND ${alias}.failed_at IS NULL`;
  // Earlier pending rows of the same ordering key. "Pending" is spelled with coalesce here, as in the key
  // index's predicate, so the planner can serve this only from the key index (destination, message_key,
  // id): it cannot prove the id index's predicate from the coalesce. With the two predicates spelled
  // alike, on an outbox whose statistics say "empty" (a new table, or the usual near-empty one hit by a
  // burst) it took the id index and walked every pending row for each candidate: 50x slower claims.
  const earlierPending = (e: string, row: string): string =>
    `${e}.destination = ${row}.destination AND ${e}.message_key = ${row}.message_key
     AND ${e}.id < ${row}.id
     AND coalesce(${e}.published_at, ${e}.failed_at) IS NULL`;
  const insert = `
    INSERT INTO ${table} (message_id, destination, message_key, type, headers, body)
    SELECT m.message_id, m.destination, m.message_key, m.type, m.headers, m.body
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bytea[])
      WITH ORDINALITY AS m(message_id, destination, message_key, type, headers, body, n)
    ORDER BY m.n`;
  const sql = {
    insert,
    insertOne: `
      INSERT INTO ${table} (message_id, destination, message_key, type, headers, body)
      VALUES ($1, $2, $3, $4, $5, $6)`,
    insertAndNotify: `
      WITH inserted AS (${insert})
      SELECT pg_notify($7, '')`,
    claim: `
      WITH locked AS (
        SELECT o.id, o.destination, o.message_key FROM ${table} o
        WHERE ${pending('o')}
          AND (o.lease_until IS NULL OR o.lease_until <= now())
          AND (o.message_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM ${table} e
            WHERE ${earlierPending('e', 'o')} AND e.lease_until > now()))
        ORDER BY o.id
        LIMIT $2
        FOR UPDATE OF o SKIP LOCKED
      ), claimable AS (
        SELECT l.id FROM locked l
        WHERE l.message_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM ${table} e
          WHERE ${earlierPending('e', 'l')}
            AND e.id NOT IN (SELECT id FROM locked))
      )
      UPDATE ${table} o
      SET lease_owner = $1, lease_until = now() + $3 * interval '1 millisecond', attempts = o.attempts + 1
      -- An array, not a join: on statistics that say "empty" (a drained burst, analyzed) the join ran the
      -- claimable CTE once per outbox row, 1.2 s for 500 rows; the array is computed once, then the pkey.
      WHERE o.id = ANY (ARRAY(SELECT id FROM claimable))
      RETURNING o.id, o.message_id, o.destination, o.message_key, o.type, o.headers, o.body, o.created_at,
        o.attempts`,
    markKept: `
      UPDATE ${table} SET published_at = now(), lease_owner = NULL, lease_until = NULL
      WHERE id = ANY($1::bigint[]) AND published_at IS NULL`,
    delete: `DELETE FROM ${table} WHERE id = ANY($1::bigint[])`,
    release: `
      UPDATE ${table} SET lease_owner = NULL, lease_until = NULL
      WHERE id = ANY($1::bigint[]) AND lease_owner = $2 AND published_at IS NULL`,
    markFailed: `
      UPDATE ${table} SET failed_at = now(), last_error = $3, lease_owner = NULL, lease_until = NULL
      WHERE id = $1 AND lease_owner = $2 AND published_at IS NULL`,
    purge: `DELETE FROM ${table} WHERE published_at < $1`,
    backlog: `
      SELECT count(*) FILTER (WHERE failed_at IS NULL) AS pending,
             min(created_at) FILTER (WHERE failed_at IS NULL) AS oldest,
             count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed
      FROM ${table} WHERE published_at IS NULL`,
    notify: `SELECT pg_notify($1, $2)`,
  };
  // Prepared, named per schema (a pool may serve several): parsing and planning the insert on every
  // handling cost PostgreSQL more than running it (saga steps with one event out, three interleaved pairs
  // of runs: 1,184 -> 1,453 steps/s on average, with the inbox's insert prepared too). Not the claim: it
  // runs once per batch, and its plan depends on the outbox's statistics (see above): a generic plan
  // PostgreSQL settled on while they said "empty" would take the slow path for every claim after.
  return Object.fromEntries(
    Object.entries(sql).map(([key, text]) => [
      key,
      key === 'claim' ? { text } : { name: `omnibus-outbox-${key}:${schema.name}`, text },
    ]),
  ) as { readonly [K in keyof typeof sql]: Statement };
}

function toRecord(row: OutboxRow): OutboxRecord {
  const envelope: Envelope = {
    id: row.message_id,
    type: row.type,
    headers: row.headers,
    body: row.body,
    ...(row.message_key === null ? {} : { key: row.message_key }),
  };
  return {
    id: row.id,
    destination: parseDestination(row.destination),
    envelope,
    createdAt: row.created_at,
    attempts: row.attempts,
  };
}

/** Ids are bigints as decimal strings. */
function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** The inverse of `describeDestination` (`channel:orders`, `queue:payments`). */
function parseDestination(text: string): Destination {
  const colon = text.indexOf(':');
  const name = text.slice(colon + 1);
  return text.slice(0, colon) === 'queue'
    ? { kind: 'queue', queue: name }
    : { kind: 'channel', channel: name };
}
