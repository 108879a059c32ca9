import type { DatabaseSync } from 'node:sqlite';
import type { InboxStore } from '@omnibus/core';
import type { SqliteSession } from './sqlite-session.js';

/**
 * The inbox table: a handled message id per consumer group, inserted in the handler's transaction. SQLite
 * has one writer at a time, so two records of one id never race: the second sees the first's row.
 */
export class SqliteInbox implements InboxStore<DatabaseSync> {
  constructor(private readonly session: SqliteSession) {}

  async record(tx: DatabaseSync, group: string, messageId: string): Promise<boolean> {
    const insert = tx === this.session.database ? this.session.statement(INSERT) : tx.prepare(INSERT);
    return insert.run(group, messageId, Date.now()).changes === 1;
  }

  async purge(before: Date): Promise<number> {
    return this.session.write('inbox purge', () =>
      Number(this.session.statement(PURGE).run(before.getTime()).changes),
    );
  }
}

const INSERT =
  'INSERT INTO omnibus_inbox (consumer_group, message_id, handled_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING';

const PURGE = 'DELETE FROM omnibus_inbox WHERE handled_at < ?';
