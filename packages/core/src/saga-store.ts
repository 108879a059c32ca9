/** Where a saga instance is in its life. */
export type SagaStatus = 'running' | 'completed';

/**
 * One saga instance as a store keeps it. The store never looks inside `data`: it is the saga runtime's
 * serialized state (the application's state, its pending timeouts, its recorded compensations), so a
 * store stays a table of opaque rows and the runtime decides what no longer deserializes.
 */
export interface SagaRecord {
  /** The saga's name (`@Saga({ name })`). */
  readonly saga: string;
  /** The correlation key of this instance: unique per saga. */
  readonly key: string;
  /** 1 once first saved; each save adds one. */
  readonly version: number;
  readonly status: SagaStatus;
  readonly data: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** Set once `status` is `completed`. */
  readonly completedAt?: Date;
}

export interface SagaListOptions {
  readonly status?: SagaStatus;
  /** At most this many, newest update first. Default 100. */
  readonly limit?: number;
}

/**
 * Saga state with optimistic concurrency. Rules every implementation keeps:
 *
 * - `load` inside a unit of work reads the committed row (or the transaction's own write) without
 *   locking it: concurrent steps of one instance all run, and the version check decides who wins.
 * - `save` with `expectedVersion` 0 inserts; otherwise it updates only the row still at
 *   `expectedVersion`. When another transaction got there first — an insert of the same key, or a save
 *   of the same version, committed or still open — `save` (or, at the latest, the commit) fails with a
 *   `ConcurrencyError`, so exactly one of two racing steps commits and the other is retried with fresh
 *   state. A save is visible to others only once its transaction commits.
 * - `get` and `list` read committed rows outside any transaction.
 * - `purgeCompleted` deletes instances completed before `before` (their retention has passed).
 */
export interface SagaStore<Tx = unknown> {
  load(tx: Tx, saga: string, key: string): Promise<SagaRecord | undefined>;
  save(tx: Tx, record: SagaRecord, expectedVersion: number): Promise<void>;
  get(saga: string, key: string): Promise<SagaRecord | undefined>;
  list(saga: string, options?: SagaListOptions): Promise<SagaRecord[]>;
  purgeCompleted(before: Date): Promise<number>;
  /** How many instances of `saga` there are per status, read now (for the saga-instances gauge). */
  count?(saga: string): Promise<Readonly<Record<SagaStatus, number>>>;
}
