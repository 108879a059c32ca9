import { KeyOrderGate } from '@omnibus/core/transport';
import { encodeSettledOffsets } from './settled-offsets.js';

/** What the tracker needs to know of a fetched record. */
export interface TrackedRecord {
  readonly offset: number;
  /** Records with one key are handed out one at a time, in offset order. */
  readonly key: string | undefined;
  /** Not handed out before this time (ms since the epoch): a retried record. */
  readonly dueAt: number | undefined;
  /** Its size, for the prefetch limit. */
  readonly bytes: number;
}

type EntryState = 'ready' | 'waiting' | 'delayed' | 'inFlight' | 'settled';

/** One record in the tracker, from fetch to settlement. */
export class TrackedEntry<R extends TrackedRecord> {
  state: EntryState = 'ready';
  /** The key is already held for this entry (it was next in line when its predecessor settled). */
  holdsKey = false;
  /** Not handed out before this time: the record's due time, or a redelivery's (see `release`). */
  notBefore: number | undefined;
  constructor(readonly record: R) {
    this.notBefore = record.dueAt;
  }
}

/** The offset to commit for a partition, and the settled offsets after it. */
export interface CommitPosition {
  readonly offset: number;
  readonly metadata: string;
}

/**
 * The records of one assigned partition, from fetch to commit:
 *
 * - hands them out in offset order, in parallel across keys and one at a time per key (a record waits
 *   while an earlier record of its key is in flight), and not before a retried record is due;
 * - knows the offset that may be committed: the first record not settled yet (every earlier record is
 *   settled), with the settled records after it in the commit metadata (see `settled-offsets.ts`);
 * - skips records a previous owner had settled already (`skipSettled`).
 *
 * Pure bookkeeping: no I/O, no timers; the consumer drives it.
 */
export class PartitionTracker<R extends TrackedRecord> {
  /** Every record not yet known to be behind the commit position, in offset order, from `#head`. */
  #entries: TrackedEntry<R>[] = [];
  #head = 0;
  /** Records not yet looked at by `take`, in offset order, from `#readyHead`. */
  #ready: TrackedEntry<R>[] = [];
  #readyHead = 0;
  /** Records whose key became free: they go before `#ready`. */
  #promoted: TrackedEntry<R>[] = [];
  /** Records not yet due, earliest first; each holds its key. */
  #delayed: TrackedEntry<R>[] = [];
  /** One record in flight (or delayed) per key; the others wait in it, in offset order. */
  readonly #keys = new KeyOrderGate<TrackedEntry<R>>();
  #inFlight = 0;
  #bufferedBytes = 0;
  /** The offset the next fetched record is expected at; undefined before the first fetch. */
  #nextOffset: number | undefined;
  #skip: ReadonlySet<number> = new Set();
  #discarded = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  /** Bytes of the records fetched and not yet handed out. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Where fetching continues: after the last record accepted. */
  get nextOffset(): number | undefined {
    return this.#nextOffset;
  }

  /** The partition was revoked: nothing more is handed out or committed. */
  get discarded(): boolean {
    return this.#discarded;
  }

  /** Offsets a previous owner settled (from its commit metadata): accepted as settled, never handed out. */
  skipSettled(offsets: ReadonlySet<number>): void {
    this.#skip = offsets;
  }

  /**
   * Takes fetched records (in offset order); `lastOffset` is the batch's last offset, which may lie past
   * the last record (transaction markers). Records already accepted (a fetch overlapping an earlier one)
   * are ignored. Returns how many were new.
   */
  accept(records: readonly R[], lastOffset: number): number {
    if (this.#discarded) return 0;
    if (this.#readyHead > 1_024 && this.#readyHead * 2 > this.#ready.length) {
      this.#ready = this.#ready.slice(this.#readyHead);
      this.#readyHead = 0;
    }
    let accepted = 0;
    for (const record of records) {
      if (this.#nextOffset !== undefined && record.offset < this.#nextOffset) continue;
      const entry = new TrackedEntry(record);
      this.#entries.push(entry);
      this.#nextOffset = record.offset + 1;
      accepted++;
      if (this.#skip.has(record.offset)) {
        entry.state = 'settled';
      } else {
        this.#ready.push(entry);
        this.#bufferedBytes += record.bytes;
      }
    }
    if (this.#nextOffset === undefined || lastOffset + 1 > this.#nextOffset)
      this.#nextOffset = lastOffset + 1;
    return accepted;
  }

  /** The next record that may be handed out now, marked in flight; undefined when none may. */
  take(now: number): TrackedEntry<R> | undefined {
    if (this.#discarded) return undefined;
    const due = this.#delayed[0];
    if (due !== undefined && due.notBefore! <= now) {
      this.#delayed.shift();
      return this.#handOut(due);
    }
    while (this.#promoted.length > 0) {
      const entry = this.#promoted.shift()!;
      const handed = this.#consider(entry, now);
      if (handed !== undefined) return handed;
    }
    while (this.#readyHead < this.#ready.length) {
      const entry = this.#ready[this.#readyHead]!;
      this.#ready[this.#readyHead++] = undefined as unknown as TrackedEntry<R>;
      const handed = this.#consider(entry, now);
      if (handed !== undefined) return handed;
    }
    this.#compactReady();
    return undefined;
  }

  /** When the earliest delayed record becomes due; undefined when none waits. */
  nextDueAt(): number | undefined {
    return this.#delayed[0]?.notBefore;
  }

  /** The record's delivery is settled: its key frees up and the commit position may move. */
  settle(entry: TrackedEntry<R>): boolean {
    if (entry.state !== 'inFlight') return false;
    entry.state = 'settled';
    this.#inFlight--;
    if (!this.#discarded) this.#releaseKey(entry);
    return true;
  }

  /**
   * The record's delivery could not be settled (its retry or dead-letter record was not written): it is
   * handed out again from `notBefore`, as a new delivery. It keeps its key meanwhile, so no later record
   * of the key overtakes it, and the commit position stays before it.
   */
  release(entry: TrackedEntry<R>, notBefore: number): boolean {
    if (entry.state !== 'inFlight' || this.#discarded) return false;
    this.#inFlight--;
    this.#bufferedBytes += entry.record.bytes;
    entry.notBefore = notBefore;
    this.#delay(entry);
    return true;
  }

  /**
   * The offset to commit (the first record not settled, or the next offset when all are) and the
   * settled offsets after it; undefined before anything was fetched or once discarded.
   */
  commitPosition(): CommitPosition | undefined {
    if (this.#discarded || this.#nextOffset === undefined) return undefined;
    while (this.#head < this.#entries.length && this.#entries[this.#head]!.state === 'settled') this.#head++;
    if (this.#head > 1_024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    if (this.#head === this.#entries.length) return { offset: this.#nextOffset, metadata: '' };
    const offset = this.#entries[this.#head]!.record.offset;
    const settled: number[] = [];
    for (let i = this.#head + 1; i < this.#entries.length; i++) {
      const entry = this.#entries[i]!;
      if (entry.state === 'settled') settled.push(entry.record.offset);
    }
    return { offset, metadata: encodeSettledOffsets(offset, settled) };
  }

  /** Revoked: forget everything; deliveries still in flight settle without effect on commits. */
  discard(): void {
    this.#discarded = true;
    this.#entries = [];
    this.#head = 0;
    this.#ready = [];
    this.#readyHead = 0;
    this.#promoted = [];
    this.#delayed = [];
    this.#keys.drain();
    this.#bufferedBytes = 0;
  }

  #consider(entry: TrackedEntry<R>, now: number): TrackedEntry<R> | undefined {
    const key = entry.record.key;
    if (key !== undefined && !entry.holdsKey) {
      if (!this.#keys.admit(key, entry)) {
        entry.state = 'waiting';
        return undefined;
      }
      entry.holdsKey = true;
    }
    const notBefore = entry.notBefore;
    if (notBefore !== undefined && notBefore > now) {
      this.#delay(entry);
      return undefined;
    }
    return this.#handOut(entry);
  }

  /** Waits in `#delayed` (earliest first) until `notBefore`, holding its key. */
  #delay(entry: TrackedEntry<R>): void {
    entry.state = 'delayed';
    const notBefore = entry.notBefore!;
    let index = this.#delayed.length;
    while (index > 0 && this.#delayed[index - 1]!.notBefore! > notBefore) index--;
    this.#delayed.splice(index, 0, entry);
  }

  #handOut(entry: TrackedEntry<R>): TrackedEntry<R> {
    entry.state = 'inFlight';
    this.#inFlight++;
    this.#bufferedBytes -= entry.record.bytes;
    return entry;
  }

  #releaseKey(entry: TrackedEntry<R>): void {
    const next = this.#keys.release(entry.record.key);
    if (next === undefined) return;
    // The next record of the key keeps the key held and goes first, so nothing overtakes it.
    next.holdsKey = true;
    next.state = 'ready';
    this.#promoted.push(next);
  }

  #compactReady(): void {
    if (this.#readyHead === this.#ready.length) {
      this.#ready = [];
      this.#readyHead = 0;
    }
  }
}
