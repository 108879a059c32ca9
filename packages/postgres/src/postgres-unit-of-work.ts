import type { Logger, UnitOfWork } from '@omnibus/core';
import { OmnibusError } from '@omnibus/core';
import type { Pool, PoolClient } from 'pg';
import type { PostgresCommitHooks } from './postgres-commit-hooks.js';
import { isPipelined } from './postgres-commit-hooks.js';
import { persistenceError } from './postgres-errors.js';

/**
 * A unit of work on a pg pool: `BEGIN` on a pooled client, `work(client)` (the client is `ctx.tx`: run the
 * application's queries on it), then `COMMIT`, or `ROLLBACK` when `work` throws. A transaction that a
 * failed statement aborted (the handler caught the error and carried on) does not commit: PostgreSQL
 * would silently roll it back on COMMIT, so it fails with `TRANSACTION_ABORTED` instead of acking a
 * message whose effects are gone.
 *
 * On a pipelined client (pg's `pipeline: true`, the default of a pool `PostgresPersistence` creates)
 * `BEGIN` goes out with the first statement of `work`, and statements the stores defer (the outbox
 * insert) go out with `COMMIT`: a handling costs two round trips fewer.
 */
export class PostgresUnitOfWork implements UnitOfWork<PoolClient> {
  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
    private readonly hooks: PostgresCommitHooks,
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
    // Pipelined, BEGIN is not waited for: it can only fail with the connection, and then so does
    // everything queued behind it, so the failure surfaces there (and again below).
    const begun = client.query('BEGIN').then(undefined, (error: unknown) => {
      throw persistenceError(error, 'BEGIN');
    });
    if (isPipelined(client)) begun.catch(() => undefined);
    else {
      try {
        await begun;
      } catch (error) {
        release(true);
        throw error;
      }
    }
    this.hooks.open(client);
    let result: T;
    try {
      result = await work(client);
      await begun;
    } catch (error) {
      this.hooks.close(client);
      try {
        await client.query('ROLLBACK');
        release();
      } catch {
        release(true);
      }
      throw error;
    }
    const { deferred, afterCommit } = this.hooks.close(client);
    const commit = client.query('COMMIT');
    const settled = await Promise.allSettled(deferred);
    let command: string;
    try {
      command = (await commit).command;
    } catch (error) {
      // Unknown outcome: the commit may have happened. The redelivery meets the inbox record if so.
      release(true);
      throw persistenceError(error, 'COMMIT');
    }
    release();
    const failed = settled.find((outcome) => outcome.status === 'rejected');
    // A deferred statement failed: the transaction was aborted and COMMIT rolled it back.
    if (failed !== undefined) throw failed.reason;
    if (command !== 'COMMIT') {
      throw new OmnibusError('the transaction was aborted by a failed statement and rolled back', {
        code: 'TRANSACTION_ABORTED',
        retriable: true,
      });
    }
    for (const run of afterCommit) run();
    return result;
  }
}
