import type { Logger, UnitOfWork } from '@omnibus/core';
import { OmnibusError } from '@omnibus/core';
import type { Pool, PoolClient } from 'pg';
import { persistenceError } from './postgres-errors.js';

/**
 * A unit of work on a pg pool: `BEGIN` on a pooled client, `work(client)` (the client is `ctx.tx`: run the
 * application's queries on it), then `COMMIT`, or `ROLLBACK` when `work` throws. A transaction that a
 * failed statement aborted (the handler caught the error and carried on) does not commit: PostgreSQL
 * would silently roll it back on COMMIT, so it fails with `TRANSACTION_ABORTED` instead of acking a
 * message whose effects are gone.
 */
export class PostgresUnitOfWork implements UnitOfWork<PoolClient> {
  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
  ) {}

  async transaction<T>(work: (tx: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw persistenceError(error, 'connect');
    }
    // A checked-out client whose connection dies emits 'error'; unheard, that would crash the process.
    const onError = (error: Error): void =>
      this.logger.warn({ error: error.message }, 'postgres connection lost during a unit of work');
    client.on('error', onError);
    /** Back to the pool; `destroy` when the connection may be broken or mid-transaction. */
    const release = (destroy = false): void => {
      client.off('error', onError);
      client.release(destroy);
    };
    try {
      await client.query('BEGIN');
    } catch (error) {
      release(true);
      throw persistenceError(error, 'BEGIN');
    }
    let result: T;
    try {
      result = await work(client);
    } catch (error) {
      try {
        await client.query('ROLLBACK');
        release();
      } catch {
        release(true);
      }
      throw error;
    }
    let command: string;
    try {
      command = (await client.query('COMMIT')).command;
    } catch (error) {
      // Unknown outcome: the commit may have happened. The redelivery meets the inbox record if so.
      release(true);
      throw persistenceError(error, 'COMMIT');
    }
    release();
    if (command !== 'COMMIT') {
      throw new OmnibusError('the transaction was aborted by a failed statement and rolled back', {
        code: 'TRANSACTION_ABORTED',
        retriable: true,
      });
    }
    return result;
  }
}
