import type { InboxStore } from '@omnibus/core';
import type { Pool, PoolClient } from 'pg';
import { persistenceError } from './postgres-errors.js';
import type { PostgresSchema } from './postgres-schema.js';

/**
 * The inbox table. `record` is `INSERT ... ON CONFLICT DO NOTHING` in the handler's transaction: a
 * concurrent insert of the same id waits for the other transaction and then conflicts (it committed: a
 * duplicate) or succeeds (it rolled back).
 */
export class PostgresInbox implements InboxStore<PoolClient> {
  /** Prepared (named per schema): parsing and planning it on every handling cost more than running it. */
  readonly #insert: { readonly name: string; readonly text: string };

  constructor(
    private readonly pool: Pool,
    private readonly schema: PostgresSchema,
  ) {
    this.#insert = {
      name: `omnibus-inbox-record:${schema.name}`,
      text: `INSERT INTO ${schema.inbox} (consumer_group, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
    };
  }

  async record(tx: PoolClient, group: string, messageId: string): Promise<boolean> {
    const result = await tx.query({ ...this.#insert, values: [group, messageId] });
    return result.rowCount === 1;
  }

  async purge(before: Date): Promise<number> {
    try {
      const result = await this.pool.query(`DELETE FROM ${this.schema.inbox} WHERE handled_at < $1`, [
        before,
      ]);
      return result.rowCount ?? 0;
    } catch (error) {
      throw persistenceError(error, 'inbox purge');
    }
  }
}
