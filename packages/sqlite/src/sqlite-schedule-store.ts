import type { DatabaseSync, SQLOutputValue, StatementSync } from 'node:sqlite';
import type {
  Destination,
  OutboxListener,
  ScheduledMessage,
  ScheduleListOptions,
  ScheduleStore,
} from '@omnibus/core';
import { describeDestination } from '@omnibus/core';
import type { SqliteMigration } from './sqlite-migrations.js';
import type { SqliteSession } from './sqlite-session.js';

/** The scheduled-messages table (component `schedules`). Times are Unix milliseconds. */
export const scheduleMigrations: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'scheduled messages',
    sql: `
      CREATE TABLE omnibus_schedules (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        message_id TEXT NOT NULL,
        destination TEXT NOT NULL,
        message_key TEXT,
        type TEXT NOT NULL,
        headers TEXT NOT NULL,
        body BLOB NOT NULL,
        deliver_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX omnibus_schedules_due ON omnibus_schedules (deliver_at, seq);
      CREATE INDEX omnibus_schedules_type_due ON omnibus_schedules (type, deliver_at, seq);
    `,
  },
];

/**
 * Scheduled messages in the persistence's SQLite file, next to its outbox. Writers are serialised (one
 * write lock per file), so a release — select the due rows, copy them into the outbox in due order,
 * delete them, in one `BEGIN IMMEDIATE` transaction — never meets a concurrent cancel or another
 * process's release half-way: each row is released once, or cancelled. Notifications reach relays in
 * this process only; a relay in another process wakes by its poll.
 */
export class SqliteScheduleStore implements ScheduleStore<DatabaseSync> {
  readonly #listeners = new Set<(earliest: Date) => void>();

  constructor(private readonly session: SqliteSession) {}

  async add(tx: DatabaseSync | undefined, messages: readonly ScheduledMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const insert = (statement: StatementSync): void => {
      for (const { id, destination, envelope, deliverAt, createdAt } of messages) {
        statement.run(
          id,
          envelope.id,
          describeDestination(destination),
          envelope.key ?? null,
          envelope.type,
          JSON.stringify(envelope.headers),
          envelope.body,
          deliverAt.getTime(),
          createdAt.getTime(),
        );
      }
    };
    const earliest = new Date(messages.reduce((min, m) => Math.min(min, m.deliverAt.getTime()), Infinity));
    if (tx === undefined) {
      await this.session.write('schedule add', () => insert(this.session.statement(INSERT)));
      this.#notify(earliest);
      return;
    }
    insert(tx === this.session.database ? this.session.statement(INSERT) : tx.prepare(INSERT));
    if (this.#listeners.size > 0) this.session.afterCommit(() => this.#notify(earliest));
  }

  async releaseDue(limit: number): Promise<number> {
    return this.session.write('schedule release', () => {
      const now = Date.now();
      const due = this.session
        .statement(DUE)
        .all(now, limit)
        .map((row) => Number(row.seq));
      if (due.length === 0) return 0;
      const seqs = JSON.stringify(due);
      this.session.statement(MOVE).run(now, seqs);
      this.session.statement(DELETE_MOVED).run(seqs);
      return due.length;
    });
  }

  async cancel(id: string): Promise<boolean> {
    return this.session.write(
      'schedule cancel',
      () =>
        Number(this.session.statement('DELETE FROM omnibus_schedules WHERE id = ?').run(id).changes) === 1,
    );
  }

  async reschedule(id: string, deliverAt: Date): Promise<boolean> {
    const moved = await this.session.write(
      'schedule reschedule',
      () =>
        Number(
          this.session
            .statement('UPDATE omnibus_schedules SET deliver_at = ? WHERE id = ?')
            .run(deliverAt.getTime(), id).changes,
        ) === 1,
    );
    if (moved) this.#notify(deliverAt);
    return moved;
  }

  async list(options: ScheduleListOptions = {}): Promise<ScheduledMessage[]> {
    const limit = options.limit ?? 100;
    const before = options.dueBefore?.getTime() ?? Number.MAX_SAFE_INTEGER;
    return this.session.read('schedule list', () =>
      (options.type === undefined
        ? this.session.statement(LIST).all(before, limit)
        : this.session.statement(LIST_BY_TYPE).all(options.type, before, limit)
      ).map(toScheduled),
    );
  }

  async get(id: string): Promise<ScheduledMessage | undefined> {
    return this.session.read('schedule get', () => {
      const row = this.session.statement(`SELECT ${COLUMNS} FROM omnibus_schedules WHERE id = ?`).get(id);
      return row === undefined ? undefined : toScheduled(row);
    });
  }

  async nextDueAt(): Promise<Date | undefined> {
    return this.session.read('schedule next due', () => {
      const row = this.session
        .statement('SELECT deliver_at FROM omnibus_schedules ORDER BY deliver_at, seq LIMIT 1')
        .get();
      return row === undefined ? undefined : new Date(Number(row.deliver_at));
    });
  }

  async pending(): Promise<number> {
    return this.session.read('schedule count', () =>
      Number(this.session.statement('SELECT count(*) AS n FROM omnibus_schedules').get()!.n),
    );
  }

  async listen(onAdded: (earliest: Date | undefined) => void): Promise<OutboxListener> {
    const listener = (earliest: Date): void => onAdded(earliest);
    this.#listeners.add(listener);
    return { close: async () => void this.#listeners.delete(listener) };
  }

  #notify(earliest: Date): void {
    for (const listener of this.#listeners) queueMicrotask(() => listener(earliest));
  }
}

const COLUMNS = 'id, message_id, destination, message_key, type, headers, body, deliver_at, created_at';
const INSERT = `INSERT INTO omnibus_schedules (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const DUE = 'SELECT seq FROM omnibus_schedules WHERE deliver_at <= ? ORDER BY deliver_at, seq LIMIT ?';
const MOVE = `
  INSERT INTO omnibus_outbox (message_id, destination, message_key, type, headers, body, created_at)
  SELECT message_id, destination, message_key, type, headers, body, ? FROM omnibus_schedules
  WHERE seq IN (SELECT value FROM json_each(?))
  ORDER BY deliver_at, seq`;
const DELETE_MOVED = 'DELETE FROM omnibus_schedules WHERE seq IN (SELECT value FROM json_each(?))';
const LIST = `SELECT ${COLUMNS} FROM omnibus_schedules WHERE deliver_at < ? ORDER BY deliver_at, seq LIMIT ?`;
const LIST_BY_TYPE = `SELECT ${COLUMNS} FROM omnibus_schedules WHERE type = ? AND deliver_at < ?
  ORDER BY deliver_at, seq LIMIT ?`;

function toScheduled(row: Record<string, SQLOutputValue>): ScheduledMessage {
  const key = row.message_key;
  return {
    id: String(row.id),
    destination: parseDestination(String(row.destination)),
    envelope: {
      id: String(row.message_id),
      type: String(row.type),
      headers: JSON.parse(String(row.headers)) as Record<string, string>,
      body: row.body as Uint8Array,
      ...(key === null ? {} : { key: String(key) }),
    },
    deliverAt: new Date(Number(row.deliver_at)),
    createdAt: new Date(Number(row.created_at)),
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
