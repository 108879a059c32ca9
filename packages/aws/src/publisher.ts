import type { Envelope } from '@omnibus/core';
import { exponential, TransportError } from '@omnibus/core';
import { MessageTooLargeError, abortableDelay } from '@omnibus/core/transport';
import type { BatchEntry, BatchSender, EntryFailure, PublishTarget } from './batch-sender.js';
import type { DeadLetterReads } from './fifo-ids.js';
import { messageGroupId } from './fifo-ids.js';
import { encodeMessage, MAX_MESSAGE_BYTES } from './aws-codec.js';

/** `PublishBatch` and `SendMessageBatch` take up to 10 entries and 256 KiB in all. */
const MAX_BATCH_ENTRIES = 10;
/** Attempts for entries a batch reports as failed (throttled, internal error) before publish rejects. */
export const ENTRY_ATTEMPTS = 5;
const entryBackoff = exponential({ initialMs: 50, maxMs: 1_000 });
/** Batch requests in flight at once per standard topic or queue. FIFO: one, so batches keep their order. */
export const MAX_BATCHES_IN_FLIGHT = 32;

/**
 * Publishes envelopes in batches with per-entry failure handling. Every topic or queue has a lane: what
 * callers publish while the lane's requests are in flight is gathered into full batches (10 entries,
 * 256 KiB), so many concurrent one-message publishes (as `bus.publish` makes) become few requests, with
 * no timer and no added latency when idle. Entries a batch reports as failed are sent again (same FIFO
 * deduplication id, so a retry is never stored twice), up to {@link ENTRY_ATTEMPTS} times; a `publish`
 * resolves only when all its entries were accepted and rejects with a `TransportError` (`PUBLISH_FAILED`,
 * naming the ids) otherwise, at once when the broker calls an entry invalid. Nothing of a call is sent
 * when one of its envelopes is over the size limit (`MESSAGE_TOO_LARGE`).
 */
export class Publisher {
  readonly #lanes = new Map<string, PublishLane>();

  constructor(
    private readonly sender: BatchSender,
    private readonly deadLetterReads: DeadLetterReads,
  ) {}

  /**
   * `deduplicationId` picks each FIFO entry's deduplication id; by default the message id (a fresh one
   * for a dead letter being replayed, see `DeadLetterReads`).
   */
  async publish(
    target: PublishTarget,
    envelopes: readonly Envelope[],
    deduplicationId: (envelope: Envelope) => string = (envelope) =>
      this.deadLetterReads.deduplicationIdFor(envelope.id),
  ): Promise<void> {
    const encoded = envelopes.map((envelope) => {
      const message = encodeMessage(envelope);
      if (message.size > MAX_MESSAGE_BYTES) {
        throw new MessageTooLargeError(
          envelope.id,
          message.size,
          MAX_MESSAGE_BYTES,
          ' on the wire (body and attributes, the SQS/SNS limit)',
        );
      }
      return message;
    });
    if (envelopes.length === 0) return;
    const entries = envelopes.map((envelope, index): Entry => ({
      envelope,
      body: encoded[index]!.body,
      attributes: encoded[index]!.attributes,
      size: encoded[index]!.size,
      groupId: target.fifo ? messageGroupId(envelope) : undefined,
      deduplicationId: target.fifo ? deduplicationId(envelope) : undefined,
    }));
    const key = target.kind === 'topic' ? target.arn : target.url;
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = new PublishLane(this.sender, target);
      this.#lanes.set(key, lane);
    }
    return lane.submit(entries);
  }
}

type Entry = Omit<BatchEntry, 'id'> & { readonly envelope: Envelope; readonly size: number };

/** One `publish` call: resolves when all its entries are accepted, rejects at the first that is not. */
class Call {
  readonly promise: Promise<void>;
  #remaining: number;
  #settled = false;
  #resolve!: () => void;
  #reject!: (error: unknown) => void;

  constructor(entries: number) {
    this.#remaining = entries;
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  accepted(): void {
    if (--this.#remaining === 0 && !this.#settled) {
      this.#settled = true;
      this.#resolve();
    }
  }

  failed(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(error);
  }
}

interface Pending {
  readonly entry: Entry;
  readonly call: Call;
}

/** The batches of one topic or queue. */
class PublishLane {
  readonly #maxInFlight: number;
  #pending: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(
    private readonly sender: BatchSender,
    private readonly target: PublishTarget,
  ) {
    this.#maxInFlight = target.fifo ? 1 : MAX_BATCHES_IN_FLIGHT;
  }

  submit(entries: readonly Entry[]): Promise<void> {
    const call = new Call(entries.length);
    for (const entry of entries) this.#pending.push({ entry, call });
    if (this.#inFlight > 0) {
      this.#drain();
    } else if (!this.#scheduled) {
      // Gather what is published in the same turn of the event loop into the first batches.
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#drain();
      });
    }
    return call.promise;
  }

  /** Sends full batches while there is room; a partial one only when nothing is in flight. */
  #drain(): void {
    while (this.#pending.length > 0 && this.#inFlight < this.#maxInFlight) {
      const count = nextBatchSize(this.#pending);
      const full = count === MAX_BATCH_ENTRIES || count < this.#pending.length;
      if (!full && this.#inFlight > 0) return;
      const batch = this.#pending.splice(0, count);
      this.#inFlight++;
      void this.#send(batch).finally(() => {
        this.#inFlight--;
        this.#drain();
      });
    }
  }

  async #send(batch: readonly Pending[]): Promise<void> {
    let pending = batch;
    for (let attempt = 1; ; attempt++) {
      let failures: EntryFailure[];
      try {
        failures = await this.sender.send(
          this.target,
          pending.map(({ entry }, index) => ({ ...entry, id: String(index) })),
        );
      } catch (error) {
        for (const { call } of pending) call.failed(error);
        return;
      }
      const failed = new Map(failures.map((f) => [Number(f.id), f]));
      for (const [index, { call }] of pending.entries()) if (!failed.has(index)) call.accepted();
      if (failed.size === 0) return;
      const retry = [...failed.keys()].map((index) => pending[index]!).filter((p) => p !== undefined);
      const permanent = [...failed.values()].filter((f) => f.senderFault);
      if (permanent.length > 0 || attempt >= ENTRY_ATTEMPTS) {
        const error = new TransportError(
          `${failed.size} message(s) not accepted by ${this.target.name} after ${attempt} attempt(s): ` +
            describe(permanent.length > 0 ? permanent : [...failed.values()], pending),
          { code: 'PUBLISH_FAILED', retriable: permanent.length === 0 },
        );
        for (const { call } of retry) call.failed(error);
        return;
      }
      pending = retry;
      await abortableDelay(entryBackoff(attempt));
    }
  }
}

function describe(failures: readonly EntryFailure[], batch: readonly Pending[]): string {
  const shown = failures
    .slice(0, 3)
    .map((f) => `${batch[Number(f.id)]?.entry.envelope.id ?? f.id} (${f.code}: ${f.message})`);
  return shown.join('; ') + (failures.length > 3 ? `; and ${failures.length - 3} more` : '');
}

/** How many of the first pending entries fit one batch: at most 10 and 256 KiB, at least one. */
function nextBatchSize(pending: readonly Pending[]): number {
  let bytes = 0;
  let count = 0;
  while (count < pending.length && count < MAX_BATCH_ENTRIES) {
    const size = pending[count]!.entry.size;
    if (count > 0 && bytes + size > MAX_MESSAGE_BYTES) break;
    bytes += size;
    count++;
  }
  return count;
}
