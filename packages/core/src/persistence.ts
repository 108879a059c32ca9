import type { Destination } from './transport.js';
import type { Envelope } from './envelope.js';
import type { ScheduleStore } from './schedule-store.js';

/**
 * A database transaction opened by the framework: the handler's writes, its inbox record and its outbox
 * rows commit or roll back together. `Tx` is the store's own handle (a pg client, a node:sqlite
 * database...), exposed to handlers as `ctx.tx`.
 */
export interface UnitOfWork<Tx = unknown> {
  /**
   * Runs `work` inside one transaction: commits when it resolves, rolls back when it throws (and rethrows
   * what `work` threw, unchanged). When the database itself fails (cannot begin, cannot commit) it
   * rejects with a `PersistenceUnavailableError` (retriable, code `PERSISTENCE_UNAVAILABLE`): nothing was committed,
   * or — when the connection broke during COMMIT — it may have been; the inbox makes the retry safe.
   */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
}

/**
 * Idempotent consumers. `record` stores that `group` handled `messageId`, inside `tx`, and says whether
 * this is the first time: `false` means a duplicate, and the handler must not run. Two concurrent calls
 * for the same pair never both return `true` once both transactions commit; a call that meets another
 * transaction's uncommitted record of the same pair waits for it (false if it commits, true if it rolls
 * back), so a rolled-back attempt never hides a message.
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
  /** Appends `messages`, in this order, to the outbox inside `tx`. Nothing is visible before commit. */
  add(tx: Tx, messages: readonly OutboxMessage[]): Promise<void>;
}

/**
 * What a bus needs for exactly-once effects: a unit of work, its inbox and its outbox; and, to schedule
 * messages durably, its scheduled-messages table.
 */
export interface Persistence<Tx = unknown> {
  readonly unitOfWork: UnitOfWork<Tx>;
  readonly inbox: InboxStore<Tx>;
  readonly outbox: OutboxWriter<Tx>;
  readonly schedules?: ScheduleStore<Tx>;
}

/** A committed outbox row as a relay claims it. */
export interface OutboxRecord extends OutboxMessage {
  /**
   * The store's row id. Rows of one ordering key are claimed in id order; a store assigns ids so that
   * rows written by transactions that serialise on the same business rows get ids in commit order.
   */
  readonly id: string;
  readonly createdAt: Date;
  /** How many times the row has been claimed, this claim included. */
  readonly attempts: number;
}

/** What is waiting in an outbox: the relay's backlog and lag. */
export interface OutboxBacklog {
  /** Rows not yet published, failed ones excluded. */
  readonly pending: number;
  /** When the oldest pending row was written; `now - oldestPendingAt` is the relay's lag. */
  readonly oldestPendingAt: Date | undefined;
  /** Rows given up on (see {@link OutboxStore.markFailed}); they wait for an operator. */
  readonly failed: number;
}

/** A subscription to commit notifications; see {@link OutboxStore.listen}. */
export interface OutboxListener {
  close(): Promise<void>;
}

/**
 * The relay's side of an outbox. Rules every implementation keeps:
 *
 * - **Ordering key**: the pair (destination, envelope key). Rows without a key are not ordered against
 *   each other; rows of one ordering key are published in id order.
 * - **Claims are leases.** `claim` hands out rows to `owner` until `leaseMs` from now. A row under a
 *   live lease is never handed out again; once the lease expires (its relay died or hung) the row is
 *   claimable again, so a crash between publish and mark republishes (at-least-once; the consumers'
 *   inbox absorbs the duplicate).
 * - **Per-key prefixes.** A claim returns a row only together with every earlier pending row of its
 *   ordering key, so it hands out, per key, a prefix of that key's pending rows; a key whose earlier row
 *   is leased by anyone (another relay, or a dead one whose lease has not expired) is skipped entirely.
 *   Two relays therefore never publish one key at the same time, and as each publishes its rows in id
 *   order, the first copy of every message reaches the broker in key order even when a lease expires
 *   under a slow relay.
 * - Claims from several relays (processes) may run at once; they never hand out a row twice.
 */
export interface OutboxStore<Tx = unknown> extends OutboxWriter<Tx> {
  /** Leases up to `limit` claimable rows to `owner` for `leaseMs`, in id order; `attempts` goes up by one. */
  claim(owner: string, limit: number, leaseMs: number): Promise<OutboxRecord[]>;
  /**
   * Records that rows were published (whoever holds their lease now: a publish is a fact). `keep: false`
   * deletes them; `keep: true` stamps their publish time and keeps them until {@link purgePublished}.
   */
  markPublished(ids: readonly string[], keep: boolean): Promise<void>;
  /** Gives back `owner`'s leases on rows it did not publish, so they are claimable at once. */
  release(owner: string, ids: readonly string[]): Promise<void>;
  /**
   * Gives up on a row `owner` holds that can never be published (e.g. larger than the broker accepts):
   * it is kept with `reason`, no longer claimed, and no longer holds back later rows of its key.
   */
  markFailed(owner: string, id: string, reason: string): Promise<void>;
  /** Deletes published rows published before `before`; returns how many. */
  purgePublished(before: Date): Promise<number>;
  backlog(): Promise<OutboxBacklog>;
  /**
   * Optional wake-up: calls `onCommit` soon after a transaction that added rows commits (anywhere the
   * store can see: PostgreSQL NOTIFY, in-process for SQLite and memory). Best-effort: notifications may
   * be lost or merged, so a relay polls as well.
   */
  listen?(onCommit: () => void): Promise<OutboxListener>;
}
