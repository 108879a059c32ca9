import type { PoolClient } from 'pg';

interface OpenTransaction {
  /** Statements sent without waiting (a pipelined client): their results are awaited with COMMIT. */
  readonly deferred: Promise<unknown>[];
  /** Run once the transaction has committed. */
  readonly afterCommit: (() => void)[];
}

/**
 * What the stores attach to a unit of work's open transaction, keyed by its client: statements whose
 * results are only needed at COMMIT, and work to do after it. A client not in a unit of work (an
 * application's own transaction) has no entry; the stores then do everything inside the transaction.
 */
export class PostgresCommitHooks {
  readonly #open = new WeakMap<PoolClient, OpenTransaction>();

  open(client: PoolClient): void {
    this.#open.set(client, { deferred: [], afterCommit: [] });
  }

  /** Whether `client` is in a unit of work's transaction. */
  has(client: PoolClient): boolean {
    return this.#open.has(client);
  }

  /**
   * Sends `statement` on `client` and returns without waiting when the client pipelines (pg's
   * `pipeline: true`): its result comes with COMMIT's, in one round trip, and a failure aborts the
   * transaction, so the commit fails with it. Otherwise waits for it like any query.
   */
  async send(client: PoolClient, statement: Promise<unknown>): Promise<void> {
    const open = this.#open.get(client);
    if (open !== undefined && isPipelined(client)) {
      statement.catch(() => undefined); // observed at COMMIT
      open.deferred.push(statement);
      return;
    }
    await statement;
  }

  afterCommit(client: PoolClient, run: () => void): void {
    this.#open.get(client)?.afterCommit.push(run);
  }

  /** Ends `client`'s entry and returns what was attached. */
  close(client: PoolClient): OpenTransaction {
    const open = this.#open.get(client) ?? { deferred: [], afterCommit: [] };
    this.#open.delete(client);
    return open;
  }
}

/** A client that writes queries without waiting for the previous one's answer. */
export function isPipelined(client: PoolClient): boolean {
  return (client as PoolClient & { pipeline?: boolean }).pipeline === true;
}
