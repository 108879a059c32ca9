import type { DatabaseSync, SQLOutputValue } from 'node:sqlite';
import type {
  Destination,
  Envelope,
  OutboxBacklog,
  OutboxListener,
  OutboxMessage,
  OutboxRecord,
  OutboxStore,
} from '@omnibus/core';
import { describeDestination } from '@omnibus/core';
import type { SqliteSession } from './sqlite-session.js';

/**
 * The outbox table on SQLite. Writers are serialised (one write lock), so row ids follow commit order.
 * A claim is one `BEGIN IMMEDIATE` statement that leases, in id order, the pending rows whose ordering
 * key has no earlier row under a live lease: with `ORDER BY id LIMIT n` that is a prefix of every key.
 * Notifications reach relays in this process only; a relay in another process polls.
 */
export class SqliteOutbox implements OutboxStore<DatabaseSync> {
  readonly #listeners = new Set<() => void>();
  #notifyQueued = false;

  constructor(private readonly session: SqliteSession) {}

  async add(tx: DatabaseSync, messages: readonly OutboxMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const insert = tx === this.session.database ? this.session.statement(INSERT) : tx.prepare(INSERT);
    const now = Date.now();
    for (const { destination, envelope } of messages) {
      insert.run(
        envelope.id,
        describeDestination(destination),
        envelope.key ?? null,
        envelope.type,
        JSON.stringify(envelope.headers),
        envelope.body,
        now,
      );
    }
    if (this.#listeners.size > 0) this.session.afterCommit(() => this.#notify());
  }

  async claim(owner: string, limit: number, leaseMs: number): Promise<OutboxRecord[]> {
    return this.session.write('outbox claim', () => {
      const now = Date.now();
      const rows = this.session.statement(CLAIM).all({ owner, until: now + leaseMs, now, limit });
      return rows.map(toRecord).sort((a, b) => Number(a.id) - Number(b.id));
    });
  }

  async markPublished(ids: readonly string[], keep: boolean): Promise<void> {
    if (ids.length === 0) return;
    await this.session.write('outbox mark published', () => {
      if (keep) {
        this.session
          .statement(
            `UPDATE omnibus_outbox SET published_at = ?, lease_owner = NULL, lease_until = NULL
             WHERE id IN (SELECT value FROM json_each(?)) AND published_at IS NULL`,
          )
          .run(Date.now(), JSON.stringify(ids.map(Number)));
      } else {
        this.session
          .statement('DELETE FROM omnibus_outbox WHERE id IN (SELECT value FROM json_each(?))')
          .run(JSON.stringify(ids.map(Number)));
      }
    });
  }

  async release(owner: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.session.write('outbox release', () =>
      this.session
        .statement(
          `UPDATE omnibus_outbox SET lease_owner = NULL, lease_until = NULL
           WHERE id IN (SELECT value FROM json_each(?)) AND lease_owner = ? AND published_at IS NULL`,
        )
        .run(JSON.stringify(ids.map(Number)), owner),
    );
  }

  async markFailed(owner: string, id: string, reason: string): Promise<void> {
    await this.session.write('outbox mark failed', () =>
      this.session
        .statement(
          `UPDATE omnibus_outbox SET failed_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL
           WHERE id = ? AND lease_owner = ? AND published_at IS NULL`,
        )
        .run(Date.now(), reason, Number(id), owner),
    );
  }

  async purgePublished(before: Date): Promise<number> {
    return this.session.write('outbox purge', () =>
      Number(
        this.session
          .statement('DELETE FROM omnibus_outbox WHERE published_at IS NOT NULL AND published_at < ?')
          .run(before.getTime()).changes,
      ),
    );
  }

  async backlog(): Promise<OutboxBacklog> {
    return this.session.read('outbox backlog', () => {
      const row = this.session
        .statement(
          `SELECT count(*) FILTER (WHERE failed_at IS NULL) AS pending,
                  min(created_at) FILTER (WHERE failed_at IS NULL) AS oldest,
                  count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed
           FROM omnibus_outbox WHERE published_at IS NULL`,
        )
        .get()!;
      return {
        pending: Number(row.pending),
        oldestPendingAt: row.oldest === null ? undefined : new Date(Number(row.oldest)),
        failed: Number(row.failed),
      };
    });
  }

  async listen(onCommit: () => void): Promise<OutboxListener> {
    const listener = (): void => onCommit();
    this.#listeners.add(listener);
    return { close: async () => void this.#listeners.delete(listener) };
  }

  #notify(): void {
    // Many commits in one tick make one wake-up.
    if (this.#notifyQueued) return;
    this.#notifyQueued = true;
    queueMicrotask(() => {
      this.#notifyQueued = false;
      for (const listener of this.#listeners) listener();
    });
  }
}

const INSERT = `INSERT INTO omnibus_outbox (message_id, destination, message_key, type, headers, body, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?)`;

const CLAIM = `
  UPDATE omnibus_outbox SET lease_owner = :owner, lease_until = :until, attempts = attempts + 1
  WHERE id IN (
    SELECT o.id FROM omnibus_outbox o
    WHERE o.published_at IS NULL AND o.failed_at IS NULL
      AND (o.lease_until IS NULL OR o.lease_until <= :now)
      AND (o.message_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM omnibus_outbox e
        WHERE e.destination = o.destination AND e.message_key = o.message_key AND e.id < o.id
          AND e.published_at IS NULL AND e.failed_at IS NULL AND e.lease_until > :now))
    ORDER BY o.id
    LIMIT :limit)
  RETURNING id, message_id, destination, message_key, type, headers, body, created_at, attempts`;

function toRecord(row: Record<string, SQLOutputValue>): OutboxRecord {
  const key = row.message_key;
  const envelope: Envelope = {
    id: String(row.message_id),
    type: String(row.type),
    headers: JSON.parse(String(row.headers)) as Record<string, string>,
    body: row.body as Uint8Array,
    ...(key === null ? {} : { key: String(key) }),
  };
  return {
    id: String(row.id),
    destination: parseDestination(String(row.destination)),
    envelope,
    createdAt: new Date(Number(row.created_at)),
    attempts: Number(row.attempts),
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
