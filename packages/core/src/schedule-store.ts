import type { Envelope } from './envelope.js';
import type { OutboxListener } from './persistence.js';
import type { Destination } from './transport.js';

/** One message waiting for its time, as the bus wrote it and a store returns it. */
export interface ScheduledMessage {
  /** The schedule's id (a UUIDv7, not the message id): what `cancel`, `reschedule` and `get` take. */
  readonly id: string;
  readonly destination: Destination;
  /** The message as it will be published, built when it was scheduled. */
  readonly envelope: Envelope;
  /** When it is released into the outbox; a time in the past releases at once. */
  readonly deliverAt: Date;
  readonly createdAt: Date;
}

export interface ScheduleListOptions {
  /** Only messages of this type (`envelope.type`). */
  readonly type?: string;
  /** Only messages due before this time (strictly). */
  readonly dueBefore?: Date;
  /** At most this many, earliest due first. Default 100. */
  readonly limit?: number;
}

/**
 * The scheduled-messages table of a persistence. Rules every implementation keeps:
 *
 * - **`add` joins the caller's unit of work** when given its `tx`: the schedules commit with the
 *   business change and the outbox rows of the same transaction, or not at all (a saga's timeout
 *   commits with its state). Without `tx` it writes in a transaction of its own. Nothing is visible
 *   before commit. The store keeps what it is given, ids included.
 * - **`releaseDue` is an atomic move into the outbox of the same persistence**: in one transaction it
 *   deletes up to `limit` rows due at or before now and appends them to the outbox, earliest due first
 *   (ties in the order they were added), so the normal relay publishes them and keeps per-key order
 *   among released messages. A row is therefore always in exactly one of the two tables: a crash
 *   loses nothing and releases nothing twice. Several relays (processes) may release at once; each row
 *   is released once.
 * - **`cancel` returns true only if the message will never be delivered** (it was still waiting and
 *   is now gone); false if it was released already (it is, or will be, delivered) or never existed.
 *   A cancel racing a release is decided by the database: exactly one of them gets the row.
 * - **`reschedule`** moves a waiting message to `deliverAt`; false when it is no longer waiting.
 * - `list`, `get` and `nextDueAt` read committed rows; `list` is ordered by due time, then add order.
 */
export interface ScheduleStore<Tx = unknown> {
  add(tx: Tx | undefined, messages: readonly ScheduledMessage[]): Promise<void>;
  /** Moves up to `limit` due messages into the outbox; returns how many it moved. */
  releaseDue(limit: number): Promise<number>;
  cancel(id: string): Promise<boolean>;
  reschedule(id: string, deliverAt: Date): Promise<boolean>;
  list(options?: ScheduleListOptions): Promise<ScheduledMessage[]>;
  get(id: string): Promise<ScheduledMessage | undefined>;
  /** The earliest due time of a waiting message, if any: when a relay has to look next. */
  nextDueAt(): Promise<Date | undefined>;
  /** How many messages are waiting. */
  pending(): Promise<number>;
  /**
   * Optional wake-up: calls `onAdded` soon after messages are added or rescheduled where the store can
   * see it, with the earliest due time among them, so a relay sleeping until a later due time looks
   * sooner (and one already due to look earlier does nothing). `undefined` means "unknown: look again"
   * (e.g. after a reconnect, when notifications may have been lost). Best-effort, like
   * `OutboxStore.listen`: the relay polls as well.
   */
  listen?(onAdded: (earliest: Date | undefined) => void): Promise<OutboxListener>;
}
