import type { Envelope } from '@omnibus/core';
import { abortableDelay, exponential, TransportError } from '@omnibus/core';
import type { BatchEntry, BatchSender, EntryFailure, PublishTarget } from './batch-sender.js';
import type { DeadLetterReads } from './fifo-ids.js';
import { messageGroupId } from './fifo-ids.js';
import { encodeMessage, MAX_MESSAGE_BYTES } from './message-codec.js';

interface Entry extends BatchEntry {
  readonly envelope: Envelope;
  readonly size: number;
}

/** `PublishBatch` and `SendMessageBatch` take up to 10 entries and 256 KiB in all. */
const MAX_BATCH_ENTRIES = 10;
/** Attempts for entries a batch reports as failed (throttled, internal error) before publish rejects. */
export const ENTRY_ATTEMPTS = 5;
const entryBackoff = exponential({ initialMs: 50, maxMs: 1_000 });
/** Batches of one standard publish in flight at once. FIFO batches go one after another (order). */
const PARALLEL_BATCHES = 8;

/**
 * Publishes envelopes in batches with per-entry failure handling: entries a batch reports as failed are
 * sent again (same FIFO deduplication id, so a retry is never stored twice), up to {@link ENTRY_ATTEMPTS}
 * times; `publish` resolves only when every entry has been accepted, and rejects with a `TransportError`
 * (`PUBLISH_FAILED`, naming the ids) otherwise, at once when the broker calls an entry invalid. Nothing is
 * sent when one envelope is over the size limit (`MESSAGE_TOO_LARGE`).
 */
export class Publisher {
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
        throw new TransportError(
          `message ${envelope.id} is ${message.size} bytes on the wire (body and attributes), over the SQS/SNS limit of ${MAX_MESSAGE_BYTES}`,
          { code: 'MESSAGE_TOO_LARGE', retriable: false },
        );
      }
      return message;
    });
    const entries = envelopes.map((envelope, index): Entry => ({
      id: String(index),
      envelope,
      body: encoded[index]!.body,
      attributes: encoded[index]!.attributes,
      size: encoded[index]!.size,
      groupId: target.fifo ? messageGroupId(envelope) : undefined,
      deduplicationId: target.fifo ? deduplicationId(envelope) : undefined,
    }));
    const batches = intoBatches(entries);
    if (target.fifo) {
      for (const batch of batches) await this.#sendBatch(target, batch);
      return;
    }
    const results: PromiseSettledResult<void>[] = [];
    for (let i = 0; i < batches.length; i += PARALLEL_BATCHES) {
      const wave = batches.slice(i, i + PARALLEL_BATCHES).map((batch) => this.#sendBatch(target, batch));
      results.push(...(await Promise.allSettled(wave)));
    }
    const failure = results.find((result) => result.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
  }

  async #sendBatch(target: PublishTarget, batch: readonly Entry[]): Promise<void> {
    let pending = batch;
    for (let attempt = 1; ; attempt++) {
      const byId = new Map(pending.map((entry) => [entry.id, entry]));
      const failed = (await this.sender.send(target, pending)).filter((f) => byId.has(f.id));
      if (failed.length === 0) return;
      const permanent = failed.filter((f) => f.senderFault);
      if (permanent.length > 0 || attempt >= ENTRY_ATTEMPTS) {
        throw new TransportError(
          `${failed.length} message(s) not accepted by ${target.name} after ${attempt} attempt(s): ` +
            describe(permanent.length > 0 ? permanent : failed, byId),
          { code: 'PUBLISH_FAILED', retriable: permanent.length === 0 },
        );
      }
      pending = failed.map((f) => byId.get(f.id)!);
      await abortableDelay(entryBackoff(attempt));
    }
  }
}

function describe(failures: readonly EntryFailure[], byId: Map<string, Entry>): string {
  const shown = failures.slice(0, 3).map((f) => `${byId.get(f.id)!.envelope.id} (${f.code}: ${f.message})`);
  return shown.join('; ') + (failures.length > 3 ? `; and ${failures.length - 3} more` : '');
}

/** Consecutive runs of at most 10 entries and 256 KiB, in publish order. */
function intoBatches(entries: readonly Entry[]): Entry[][] {
  const batches: Entry[][] = [];
  let current: Entry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (
      current.length === MAX_BATCH_ENTRIES ||
      (current.length > 0 && bytes + entry.size > MAX_MESSAGE_BYTES)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += entry.size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
