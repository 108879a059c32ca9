import type { Destination } from './transport.js';
import type { Envelope } from './envelope.js';

/**
 * A database transaction opened by the framework: the handler's writes, its inbox record and its outbox
 * rows commit or roll back together. `Tx` is the store's own handle (a pg client, a node:sqlite
 * database...), exposed to handlers as `ctx.tx`.
 */
export interface UnitOfWork<Tx = unknown> {
  /** Runs `work` inside one transaction: commits when it resolves, rolls back when it throws. */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
}

/**
 * Idempotent consumers. `record` stores that `group` handled `messageId`, inside `tx`, and says whether
 * this is the first time: `false` means a duplicate, and the handler must not run. Two concurrent calls
 * for the same pair never both return `true` once both transactions commit.
 */
export interface InboxStore<Tx = unknown> {
  record(tx: Tx, group: string, messageId: string): Promise<boolean>;
  /** Deletes records older than `before`; returns how many. */
  purge(before: Date): Promise<number>;
}

/** One message waiting in the outbox. */
export interface OutboxMessage {
  readonly destination: Destination;
  readonly envelope: Envelope;
}

/** Writes outgoing messages in the caller's transaction; a relay publishes them after commit. */
export interface OutboxWriter<Tx = unknown> {
  add(tx: Tx, messages: readonly OutboxMessage[]): Promise<void>;
}

/** What a bus needs for exactly-once effects: a unit of work, its inbox and its outbox. */
export interface Persistence<Tx = unknown> {
  readonly unitOfWork: UnitOfWork<Tx>;
  readonly inbox: InboxStore<Tx>;
  readonly outbox: OutboxWriter<Tx>;
}
