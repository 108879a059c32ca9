import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { ConfigurationError, OmnibusError } from '../errors.js';
import type {
  InboxStore,
  OutboxBacklog,
  OutboxListener,
  OutboxMessage,
  OutboxRecord,
  OutboxStore,
  Persistence,
  UnitOfWork,
} from '../persistence.js';
import type { ScheduledMessage, ScheduleListOptions, ScheduleStore } from '../schedule-store.js';
import { describeDestination } from '../transport.js';

export interface MemoryPersistenceOptions {
  /** How long the inbox remembers a handled message id. Default 24 h. */
  readonly inboxTtlMs?: number;
  /** Most message ids the inbox remembers; past it the oldest are forgotten first. Default 100,000. */
  readonly inboxMaxEntries?: number;
  /** Time for inbox expiry and outbox leases; injectable for tests. */
  readonly clock?: Clock;
}

const END = Symbol('omnibus:end-transaction');
const DELETED = Symbol('omnibus:deleted');

/**
 * A memory transaction: the application's writes (`put`/`delete` on named tables) and the stores'
 * effects are buffered and applied together when the unit of work commits, or dropped when it rolls back.
 * Reads see the transaction's own writes over the committed state. There is no isolation between
 * concurrent transactions beyond that (last commit wins); it is a test double for a database, not one.
 */
export class MemoryTransaction {
  readonly #tables: Map<string, Map<string, unknown>>;
  readonly #writes = new Map<string, Map<string, unknown>>();
  readonly #onSettled: ((committed: boolean) => void)[] = [];
  #open = true;
  #resolveSettled!: (committed: boolean) => void;
  /** Resolves when the transaction ends: `true` once committed, `false` once rolled back. */
  readonly settled = new Promise<boolean>((resolve) => (this.#resolveSettled = resolve));

  constructor(tables: Map<string, Map<string, unknown>>) {
    this.#tables = tables;
  }

  get(table: string, key: string): unknown {
    const written = this.#writes.get(table);
    if (written?.has(key)) {
      const value = written.get(key);
      return value === DELETED ? undefined : value;
    }
    return this.#tables.get(table)?.get(key);
  }

  put(table: string, key: string, value: unknown): void {
    this.#assertOpen();
    let written = this.#writes.get(table);
    if (written === undefined) this.#writes.set(table, (written = new Map<string, unknown>()));
    written.set(key, value);
  }

  delete(table: string, key: string): void {
    this.put(table, key, DELETED);
  }

  /** Runs `effect` synchronously when the transaction ends, with whether it committed. */
  onSettled(effect: (committed: boolean) => void): void {
    this.#assertOpen();
    this.#onSettled.push(effect);
  }

  [END](committed: boolean): void {
    this.#open = false;
    if (committed) {
      for (const [name, rows] of this.#writes) {
        let table = this.#tables.get(name);
        if (table === undefined) this.#tables.set(name, (table = new Map<string, unknown>()));
        for (const [key, value] of rows) {
          if (value === DELETED) table.delete(key);
          else table.set(key, value);
        }
      }
    }
    for (const effect of this.#onSettled) effect(committed);
    this.#resolveSettled(committed);
  }

  #assertOpen(): void {
    if (!this.#open) {
      throw new OmnibusError('the transaction has already ended', {
        code: 'TRANSACTION_CLOSED',
        retriable: false,
      });
    }
  }
}

/**
 * Persistence in memory, for tests and the demo: a unit of work with buffered writes applied on commit,
 * a best-effort inbox, an outbox store with the full claim rules and a schedule store releasing into it.
 * Nothing survives the process.
 */
export class MemoryPersistence implements Persistence<MemoryTransaction> {
  readonly unitOfWork: UnitOfWork<MemoryTransaction>;
  readonly inbox: MemoryInbox;
  readonly outbox: MemoryOutbox;
  readonly schedules: MemoryScheduleStore;
  readonly #tables = new Map<string, Map<string, unknown>>();

  constructor(options: MemoryPersistenceOptions = {}) {
    const clock = options.clock ?? systemClock;
    this.inbox = new MemoryInbox(
      options.inboxTtlMs ?? 24 * 3_600_000,
      options.inboxMaxEntries ?? 100_000,
      clock,
    );
    this.outbox = new MemoryOutbox(clock);
    this.schedules = new MemoryScheduleStore(this.outbox, clock);
    this.unitOfWork = {
      transaction: async <T>(work: (tx: MemoryTransaction) => Promise<T>): Promise<T> => {
        const tx = new MemoryTransaction(this.#tables);
        let result: T;
        try {
          result = await work(tx);
        } catch (error) {
          tx[END](false);
          throw error;
        }
        tx[END](true);
        return result;
      },
    };
  }

  /** The committed rows of one of the application's tables. */
  table(name: string): ReadonlyMap<string, unknown> {
    return this.#tables.get(name) ?? new Map();
  }
}

/**
 * A best-effort inbox: it remembers handled ids for `ttlMs`, at most `maxEntries` of them, in this
 * process only. A duplicate that arrives later than that, after a restart, or at another instance runs
 * the handler again. Use the SQLite or PostgreSQL inbox where effects must happen once.
 */
export class MemoryInbox implements InboxStore<MemoryTransaction> {
  /** key → time handled; insertion order is age order. */
  readonly #handled = new Map<string, number>();
  readonly #pending = new Map<string, MemoryTransaction>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly clock: Clock,
  ) {
    if (!(ttlMs > 0)) throw new ConfigurationError('inboxTtlMs', `must be > 0, got ${String(ttlMs)}`);
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new ConfigurationError(
        'inboxMaxEntries',
        `must be a positive integer, got ${String(maxEntries)}`,
      );
    }
  }

  async record(tx: MemoryTransaction, group: string, messageId: string): Promise<boolean> {
    const key = `${group}\u0000${messageId}`;
    for (;;) {
      this.#expire();
      if (this.#handled.has(key)) return false;
      const holder = this.#pending.get(key);
      if (holder === tx) return false;
      if (holder === undefined) break;
      await holder.settled; // like a database: wait for the other transaction's outcome
    }
    this.#pending.set(key, tx);
    tx.onSettled((committed) => {
      this.#pending.delete(key);
      if (!committed) return;
      this.#handled.set(key, this.clock.now());
      for (const oldest of this.#handled.keys()) {
        if (this.#handled.size <= this.maxEntries) break;
        this.#handled.delete(oldest);
      }
    });
    return true;
  }

  async purge(before: Date): Promise<number> {
    return this.#dropOlderThan(before.getTime());
  }

  /** Ids remembered now. */
  get size(): number {
    return this.#handled.size;
  }

  #expire(): void {
    this.#dropOlderThan(this.clock.now() - this.ttlMs);
  }

  #dropOlderThan(limit: number): number {
    let dropped = 0;
    for (const [key, at] of this.#handled) {
      if (at >= limit) break;
      this.#handled.delete(key);
      dropped++;
    }
    return dropped;
  }
}

interface OutboxRow {
  readonly id: number;
  readonly message: OutboxMessage;
  readonly orderingKey: string | undefined;
  readonly createdAt: Date;
  attempts: number;
  leaseOwner: string | undefined;
  leaseUntil: number;
  publishedAt: Date | undefined;
  failedAt: Date | undefined;
  failure: string | undefined;
}

/** The outbox in memory, with the claim rules of {@link OutboxStore}; rows appear on commit. */
export class MemoryOutbox implements OutboxStore<MemoryTransaction> {
  /** Insertion order is id order. */
  readonly #rows = new Map<number, OutboxRow>();
  readonly #listeners = new Set<() => void>();
  #nextId = 1;

  constructor(private readonly clock: Clock) {}

  async add(tx: MemoryTransaction, messages: readonly OutboxMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const copy = [...messages];
    tx.onSettled((committed) => {
      if (committed) this.append(copy);
    });
  }

  /** Appends committed rows at once (the schedule store's release), in this order, and wakes listeners. */
  append(messages: readonly OutboxMessage[]): void {
    const createdAt = new Date(this.clock.now());
    for (const message of messages) {
      const id = this.#nextId++;
      const key = message.envelope.key;
      this.#rows.set(id, {
        id,
        message,
        orderingKey:
          key === undefined ? undefined : `${describeDestination(message.destination)}\u0000${key}`,
        createdAt,
        attempts: 0,
        leaseOwner: undefined,
        leaseUntil: 0,
        publishedAt: undefined,
        failedAt: undefined,
        failure: undefined,
      });
    }
    for (const listener of this.#listeners) queueMicrotask(listener);
  }

  async claim(owner: string, limit: number, leaseMs: number): Promise<OutboxRecord[]> {
    const now = this.clock.now();
    const blocked = new Set<string>();
    const claimed: OutboxRecord[] = [];
    for (const row of this.#rows.values()) {
      if (claimed.length >= limit) break;
      if (row.publishedAt !== undefined || row.failedAt !== undefined) continue;
      const key = row.orderingKey;
      if (row.leaseUntil > now || (key !== undefined && blocked.has(key))) {
        if (key !== undefined) blocked.add(key);
        continue;
      }
      row.leaseOwner = owner;
      row.leaseUntil = now + leaseMs;
      row.attempts++;
      claimed.push({ ...row.message, id: String(row.id), createdAt: row.createdAt, attempts: row.attempts });
    }
    return claimed;
  }

  async markPublished(ids: readonly string[], keep: boolean): Promise<void> {
    const now = new Date(this.clock.now());
    for (const id of ids) {
      const row = this.#rows.get(Number(id));
      if (row === undefined || row.publishedAt !== undefined) continue;
      if (!keep) {
        this.#rows.delete(row.id);
        continue;
      }
      row.publishedAt = now;
      row.leaseOwner = undefined;
      row.leaseUntil = 0;
    }
  }

  async release(owner: string, ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const row = this.#rows.get(Number(id));
      if (row?.leaseOwner !== owner || row.publishedAt !== undefined) continue;
      row.leaseOwner = undefined;
      row.leaseUntil = 0;
    }
  }

  async markFailed(owner: string, id: string, reason: string): Promise<void> {
    const row = this.#rows.get(Number(id));
    if (row?.leaseOwner !== owner || row.publishedAt !== undefined) return;
    row.failedAt = new Date(this.clock.now());
    row.failure = reason;
    row.leaseOwner = undefined;
    row.leaseUntil = 0;
  }

  async purgePublished(before: Date): Promise<number> {
    let purged = 0;
    for (const row of this.#rows.values()) {
      if (row.publishedAt !== undefined && row.publishedAt < before) {
        this.#rows.delete(row.id);
        purged++;
      }
    }
    return purged;
  }

  async backlog(): Promise<OutboxBacklog> {
    let pending = 0;
    let failed = 0;
    let oldestPendingAt: Date | undefined;
    for (const row of this.#rows.values()) {
      if (row.failedAt !== undefined) failed++;
      else if (row.publishedAt === undefined) {
        pending++;
        oldestPendingAt ??= row.createdAt;
      }
    }
    return { pending, oldestPendingAt, failed };
  }

  async listen(onCommit: () => void): Promise<OutboxListener> {
    const listener = (): void => onCommit();
    this.#listeners.add(listener);
    return { close: async () => void this.#listeners.delete(listener) };
  }

  /** Rows kept after publishing (with `retentionMs`) and failed rows, for tests and inspection. */
  get size(): number {
    return this.#rows.size;
  }
}

interface ScheduleRow {
  readonly message: ScheduledMessage;
  /** Add order: ties of due time release in it. */
  readonly seq: number;
  readonly dueMs: number;
}

/**
 * Scheduled messages in memory, with the rules of {@link ScheduleStore}: rows appear on commit, and a
 * release moves them into `outbox` synchronously (one step of the event loop: nothing can get between
 * the removal and the append, so a racing `cancel` sees either a waiting row or none). Nothing survives
 * the process.
 */
export class MemoryScheduleStore implements ScheduleStore<MemoryTransaction> {
  readonly #rows = new Map<string, ScheduleRow>();
  /** Waiting rows by (due time, seq); cancelled and rescheduled rows are dropped when met. */
  readonly #due: ScheduleRow[] = [];
  readonly #listeners = new Set<(earliest: Date) => void>();
  #nextSeq = 1;

  constructor(
    private readonly outbox: MemoryOutbox,
    private readonly clock: Clock,
  ) {}

  async add(tx: MemoryTransaction | undefined, messages: readonly ScheduledMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const copy = [...messages];
    if (tx === undefined) this.#insert(copy);
    else tx.onSettled((committed) => committed && this.#insert(copy));
  }

  async releaseDue(limit: number): Promise<number> {
    const now = this.clock.now();
    const released: OutboxMessage[] = [];
    while (released.length < limit && this.#due.length > 0 && this.#due[0]!.dueMs <= now) {
      const row = this.#due.shift()!;
      if (this.#rows.get(row.message.id) !== row) continue; // cancelled or rescheduled
      this.#rows.delete(row.message.id);
      released.push({ destination: row.message.destination, envelope: row.message.envelope });
    }
    if (released.length > 0) this.outbox.append(released);
    return released.length;
  }

  async cancel(id: string): Promise<boolean> {
    return this.#rows.delete(id);
  }

  async reschedule(id: string, deliverAt: Date): Promise<boolean> {
    const row = this.#rows.get(id);
    if (row === undefined) return false;
    this.#place({ ...row.message, deliverAt: new Date(deliverAt.getTime()) }, row.seq);
    this.#wake(deliverAt);
    return true;
  }

  async list(options: ScheduleListOptions = {}): Promise<ScheduledMessage[]> {
    const limit = options.limit ?? 100;
    const before = options.dueBefore?.getTime() ?? Infinity;
    const found: ScheduledMessage[] = [];
    for (const row of this.#due) {
      if (found.length >= limit || row.dueMs >= before) break;
      if (this.#rows.get(row.message.id) !== row) continue;
      if (options.type !== undefined && row.message.envelope.type !== options.type) continue;
      found.push(row.message);
    }
    return found;
  }

  async get(id: string): Promise<ScheduledMessage | undefined> {
    return this.#rows.get(id)?.message;
  }

  async nextDueAt(): Promise<Date | undefined> {
    while (this.#due.length > 0 && this.#rows.get(this.#due[0]!.message.id) !== this.#due[0]) {
      this.#due.shift();
    }
    return this.#due[0]?.message.deliverAt;
  }

  async pending(): Promise<number> {
    return this.#rows.size;
  }

  async listen(onAdded: (earliest: Date | undefined) => void): Promise<OutboxListener> {
    const listener = (earliest: Date): void => onAdded(earliest);
    this.#listeners.add(listener);
    return { close: async () => void this.#listeners.delete(listener) };
  }

  #insert(messages: readonly ScheduledMessage[]): void {
    for (const message of messages) this.#place(message);
    this.#wake(earliestOf(messages));
  }

  /** Files `message` by (due time, seq); a rescheduled row keeps its seq, as the SQL stores do. */
  #place(message: ScheduledMessage, seq = this.#nextSeq++): void {
    const row: ScheduleRow = { message, seq, dueMs: message.deliverAt.getTime() };
    this.#rows.set(message.id, row);
    let low = 0;
    let high = this.#due.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const other = this.#due[middle]!;
      if (other.dueMs < row.dueMs || (other.dueMs === row.dueMs && other.seq < row.seq)) low = middle + 1;
      else high = middle;
    }
    this.#due.splice(low, 0, row);
  }

  #wake(earliest: Date): void {
    for (const listener of this.#listeners) queueMicrotask(() => listener(earliest));
  }
}

/** The earliest due time of `messages` (not empty). */
function earliestOf(messages: readonly ScheduledMessage[]): Date {
  let earliest = messages[0]!.deliverAt;
  for (const message of messages) if (message.deliverAt < earliest) earliest = message.deliverAt;
  return earliest;
}
