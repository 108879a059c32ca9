import type { Envelope } from '../envelope.js';
import { DONE } from '../done.js';
import { withFailureHeaders } from '../dead-letter.js';
import type { Consumer, Delivery, DeliverySink, Failure, Source } from '../transport.js';
import { SettleOnce } from '../transport/settle-once.js';
import { SinkCalls } from '../transport/sink-calls.js';

interface Item {
  readonly envelope: Envelope;
  readonly attempt: number;
}

/**
 * One queue of the in-memory broker: a subscriber group's queue, a command queue, or a dead-letter queue.
 * Consumers attached to it compete. Messages with the same key are handed out one at a time (per-key
 * order, parallel across keys); a message that is retried gives up its place. A full queue makes
 * publishers wait (`whenSpace`).
 */
export class MemoryQueue {
  readonly #ready: Item[] = [];
  #head = 0;
  /** Keys with a delivery in flight; later messages of that key wait here, in order. */
  readonly #waitingByKey = new Map<string, Item[]>();
  readonly #keysInFlight = new Set<string>();
  #waitingCount = 0;
  readonly #consumers: MemoryConsumer[] = [];
  #nextConsumer = 0;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Publishers waiting for room share one promise; `#wakePublishers` says when it resolves. */
  #space: PromiseWithResolvers<void> | undefined;
  /**
   * Waiting publishers wake once the queue has room for a batch (a quarter of it, at most 256 messages),
   * not at the first free slot: with a saturating publisher that is one wake-up per batch instead of one
   * per message.
   */
  readonly #lowWater: number;
  #pumping = false;
  #pumpAgain = false;
  #wakeScheduled = false;
  #deadLetters: MemoryQueue | undefined;

  constructor(
    readonly source: Source,
    readonly capacity: number,
  ) {
    this.#lowWater = capacity - Math.max(1, Math.min(256, Math.floor(capacity / 4)));
  }

  /** Messages waiting to be handed out (not in flight, not scheduled for a delayed retry). */
  get depth(): number {
    return this.#ready.length - this.#head + this.#waitingCount;
  }

  get deadLetters(): MemoryQueue {
    if (this.#deadLetters === undefined) {
      if (this.source.kind === 'deadLetters') throw new Error('a dead-letter queue has no dead-letter queue');
      this.#deadLetters = new MemoryQueue({ kind: 'deadLetters', of: this.source }, Number.POSITIVE_INFINITY);
    }
    return this.#deadLetters;
  }

  /** Whether `count` more messages fit now, without overtaking publishers already waiting for room. */
  hasRoomFor(count: number): boolean {
    return this.#space === undefined && this.depth + count <= this.capacity;
  }

  /** Undefined when one more message fits; otherwise a promise of room (then ask again). */
  whenSpace(): Promise<void> | undefined {
    if (this.#space === undefined && this.depth < this.capacity) return undefined;
    this.#space ??= Promise.withResolvers<void>();
    return this.#space.promise;
  }

  enqueue(envelope: Envelope, attempt = 1): void {
    this.#ready.push({ envelope, attempt });
    this.pump();
  }

  attach(sink: DeliverySink, concurrency: number): MemoryConsumer {
    const consumer = new MemoryConsumer(this, sink, concurrency);
    this.#consumers.push(consumer);
    this.pump();
    return consumer;
  }

  detach(consumer: MemoryConsumer): void {
    const index = this.#consumers.indexOf(consumer);
    if (index >= 0) this.#consumers.splice(index, 1);
  }

  /** Hands ready messages to consumers with free capacity; re-entrant calls fold into the running loop. */
  pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        while (this.#head < this.#ready.length) {
          const consumer = this.#pickConsumer();
          if (consumer === undefined) break;
          const item = this.#ready[this.#head]!;
          this.#ready[this.#head++] = undefined as unknown as Item;
          const key = item.envelope.key;
          if (key !== undefined) {
            if (this.#keysInFlight.has(key)) {
              const waiting = this.#waitingByKey.get(key);
              if (waiting === undefined) this.#waitingByKey.set(key, [item]);
              else waiting.push(item);
              this.#waitingCount++;
              continue;
            }
            this.#keysInFlight.add(key);
          }
          consumer.deliver(item.envelope, item.attempt);
        }
        this.#compact();
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
    this.#wakePublishers();
  }

  #pickConsumer(): MemoryConsumer | undefined {
    const count = this.#consumers.length;
    for (let i = 0; i < count; i++) {
      const consumer = this.#consumers[(this.#nextConsumer + i) % count]!;
      if (consumer.hasCapacity) {
        this.#nextConsumer = (this.#nextConsumer + i + 1) % count;
        return consumer;
      }
    }
    return undefined;
  }

  #compact(): void {
    if (this.#head === this.#ready.length) {
      this.#ready.length = 0;
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#ready.length) {
      this.#ready.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #wakePublishers(): void {
    if (this.#space === undefined) return;
    if (this.depth <= this.#lowWater) {
      this.#resolveSpace();
    } else if (this.depth < this.capacity && !this.#wakeScheduled) {
      // The waiters may be the consumers themselves (handlers publishing into their own full queue): then
      // nothing else drains it, and a whole batch never fits. Let them in at the next turn of the event
      // loop, once everything that can run has run.
      this.#wakeScheduled = true;
      setImmediate(this.#wakeIfRoom);
    }
  }

  readonly #wakeIfRoom = (): void => {
    this.#wakeScheduled = false;
    if (this.#space !== undefined && this.depth < this.capacity) this.#resolveSpace();
  };

  #resolveSpace(): void {
    const space = this.#space!;
    this.#space = undefined;
    space.resolve();
  }

  /** A delivery of `key` is settled or released: let the next message of that key go. */
  #releaseKey(key: string | undefined): void {
    if (key === undefined) return;
    const waiting = this.#waitingByKey.get(key);
    if (waiting === undefined) {
      this.#keysInFlight.delete(key);
      return;
    }
    const next = waiting.shift()!;
    this.#waitingCount--;
    if (waiting.length === 0) this.#waitingByKey.delete(key);
    // The key stays in flight for `next`, which goes to the front so it keeps its place.
    this.#keysInFlight.delete(key);
    this.#ready.splice(this.#head, 0, next);
  }

  settled(envelope: Envelope): void {
    this.#releaseKey(envelope.key);
    this.pump();
  }

  scheduleRetry(envelope: Envelope, attempt: number, delayMs: number): void {
    this.#releaseKey(envelope.key);
    if (delayMs <= 0) {
      this.#ready.push({ envelope, attempt });
    } else {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.enqueue(envelope, attempt);
      }, delayMs);
      this.#timers.add(timer);
    }
    this.pump();
  }

  /** An unsettled delivery of a closing consumer: back to the front, to be delivered again. */
  release(envelope: Envelope, attempt: number): void {
    this.#releaseKey(envelope.key);
    this.#ready.splice(this.#head, 0, { envelope, attempt: attempt + 1 });
    this.pump();
  }

  deadLetter(envelope: Envelope, failure: Failure): void {
    this.deadLetters.enqueue(withFailureHeaders(envelope, failure, this.source));
    this.#releaseKey(envelope.key);
    this.pump();
  }

  /** Drops timers (delayed retries are lost with the broker, as in any non-persistent broker). */
  shutdown(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#space?.resolve();
    this.#space = undefined;
    this.#deadLetters?.shutdown();
  }
}

export class MemoryConsumer implements Consumer {
  #unsettled = new Set<MemoryDelivery>();
  /**
   * Sink calls that have not returned yet; `close` waits for them. A sink that rejects leaves its delivery
   * unsettled (released for redelivery on close); the bus's sink never rejects.
   */
  readonly #sinkCalls = new SinkCalls();
  #paused = false;
  #closed: Promise<void> | undefined;

  constructor(
    readonly queue: MemoryQueue,
    readonly sink: DeliverySink,
    readonly concurrency: number,
  ) {}

  get source(): Source {
    return this.queue.source;
  }

  get hasCapacity(): boolean {
    return !this.#paused && this.#closed === undefined && this.#unsettled.size < this.concurrency;
  }

  deliver(envelope: Envelope, attempt: number): void {
    const delivery = new MemoryDelivery(this, envelope, attempt);
    this.#unsettled.add(delivery);
    this.#sinkCalls.call(this.sink, delivery);
  }

  onSettled(delivery: MemoryDelivery): boolean {
    return this.#unsettled.delete(delivery);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.queue.pump();
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    await this.#sinkCalls.whenIdle();
    this.queue.detach(this);
    const unsettled = [...this.#unsettled];
    this.#unsettled = new Set();
    for (const delivery of unsettled.reverse()) {
      delivery.markSettled();
      this.queue.release(delivery.envelope, delivery.attempt);
    }
  }
}

class MemoryDelivery implements Delivery {
  readonly #receivedAt = Date.now();
  readonly #once = new SettleOnce();

  get receivedAt(): Date {
    return new Date(this.#receivedAt);
  }

  constructor(
    readonly consumer: MemoryConsumer,
    readonly envelope: Envelope,
    readonly attempt: number,
  ) {}

  /** Takes the settlement for a release on close. */
  markSettled(): void {
    this.#once.claim();
  }

  #settle(): boolean {
    return this.#once.claim() && this.consumer.onSettled(this);
  }

  ack(): Promise<void> {
    if (this.#settle()) this.consumer.queue.settled(this.envelope);
    return DONE;
  }

  retry(delayMs: number): Promise<void> {
    if (this.#settle()) this.consumer.queue.scheduleRetry(this.envelope, this.attempt + 1, delayMs);
    return DONE;
  }

  deadLetter(failure: Failure): Promise<void> {
    if (this.#settle()) this.consumer.queue.deadLetter(this.envelope, failure);
    return DONE;
  }
}
