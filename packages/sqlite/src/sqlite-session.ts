import { AsyncLocalStorage } from 'node:async_hooks';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { UnitOfWork } from '@omnibus/core';
import { ConfigurationError, OmnibusError } from '@omnibus/core';
import { SerialQueue } from './serial-queue.js';
import { persistenceError } from './sqlite-errors.js';

/**
 * The one connection of a `SqlitePersistence` and the unit of work on it. SQLite has a single writer, so
 * transactions take turns: each unit of work runs `BEGIN IMMEDIATE` (the write lock up front, so two
 * processes never deadlock upgrading a read lock) and holds the connection until it commits; the relay's
 * claims and the purges wait for their turn. Across processes the busy timeout makes a writer wait for
 * another process's transaction.
 */
export class SqliteSession implements UnitOfWork<DatabaseSync> {
  readonly #queue = new SerialQueue();
  readonly #inTransaction = new AsyncLocalStorage<true>();
  readonly #statements = new Map<string, StatementSync>();
  #afterCommit: (() => void)[] = [];
  #ready = false;

  constructor(readonly database: DatabaseSync) {}

  /** Allows use once the schema is in place. */
  markReady(): void {
    this.#ready = true;
  }

  async transaction<T>(work: (tx: DatabaseSync) => Promise<T>): Promise<T> {
    this.#assertUsable();
    return this.#queue.run(async () => {
      try {
        this.database.exec('BEGIN IMMEDIATE');
      } catch (error) {
        throw persistenceError(error, 'BEGIN IMMEDIATE');
      }
      let result: T;
      try {
        result = await this.#inTransaction.run(true, () => work(this.database));
      } catch (error) {
        this.#rollback();
        throw error;
      }
      try {
        this.database.exec('COMMIT');
      } catch (error) {
        this.#rollback();
        throw persistenceError(error, 'COMMIT');
      }
      const hooks = this.#afterCommit;
      this.#afterCommit = [];
      for (const hook of hooks) hook();
      return result;
    });
  }

  /** Runs a short synchronous `task` in its own `BEGIN IMMEDIATE` transaction, in turn. */
  write<T>(doing: string, task: (database: DatabaseSync) => T): Promise<T> {
    this.#assertUsable();
    return this.#queue.run(() => {
      try {
        this.database.exec('BEGIN IMMEDIATE');
        const result = task(this.database);
        this.database.exec('COMMIT');
        return result;
      } catch (error) {
        this.#rollback();
        throw persistenceError(error, doing);
      }
    });
  }

  /** Runs a short synchronous read-only `task`, in turn. */
  read<T>(doing: string, task: (database: DatabaseSync) => T): Promise<T> {
    this.#assertUsable();
    return this.#queue.run(() => {
      try {
        return task(this.database);
      } catch (error) {
        throw persistenceError(error, doing);
      }
    });
  }

  /** The prepared statement of `sql` on this connection, prepared once. */
  statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) this.#statements.set(sql, (statement = this.database.prepare(sql)));
    return statement;
  }

  /** Runs `hook` once the open unit of work commits (dropped if it rolls back); at once outside one. */
  afterCommit(hook: () => void): void {
    if (this.database.isTransaction) this.#afterCommit.push(hook);
    else hook();
  }

  /** Waits for the transactions and tasks queued so far. */
  drain(): Promise<void> {
    return this.#queue.run(() => undefined);
  }

  #assertUsable(): void {
    if (!this.#ready) throw new ConfigurationError('start', 'call SqlitePersistence.start() before using it');
    if (this.#inTransaction.getStore() === true) {
      // The connection is held by the unit of work on this async path: waiting for it would deadlock.
      throw new OmnibusError(
        'a SQLite unit of work is already open here: do this work in it (ctx.tx) instead of opening another',
        { code: 'NESTED_TRANSACTION', retriable: false },
      );
    }
  }

  #rollback(): void {
    this.#afterCommit = [];
    try {
      if (this.database.isTransaction) this.database.exec('ROLLBACK');
    } catch {
      // The transaction is gone already (e.g. SQLite rolled it back on an I/O error).
    }
  }
}
