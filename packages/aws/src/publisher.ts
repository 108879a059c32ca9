import type { PublishBatchRequestEntry, SNSClient } from '@aws-sdk/client-sns';
import { PublishBatchCommand } from '@aws-sdk/client-sns';
import type { SendMessageBatchRequestEntry, SQSClient } from '@aws-sdk/client-sqs';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { Envelope } from '@omnibus/core';
import { abortableDelay, exponential, TransportError } from '@omnibus/core';
import { toTransportError } from './aws-errors.js';
import type { DeadLetterReads } from './fifo-ids.js';
import { messageGroupId } from './fifo-ids.js';
import type { EncodedMessage } from './message-codec.js';
import { encodeMessage, MAX_MESSAGE_BYTES } from './message-codec.js';

/** Where a publish goes: an SNS topic (a channel) or an SQS queue (a command queue, a dead-letter queue). */
export type PublishTarget =
  | { readonly kind: 'topic'; readonly name: string; readonly arn: string; readonly fifo: boolean }
  | { readonly kind: 'queue'; readonly name: string; readonly url: string; readonly fifo: boolean };

interface Entry {
  readonly id: string;
  readonly envelope: Envelope;
  readonly encoded: EncodedMessage;
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
}

interface FailedEntry {
  readonly entry: Entry;
  readonly code: string;
  readonly message: string;
  /** The request itself was wrong (retrying cannot help), as opposed to a passing failure. */
  readonly senderFault: boolean;
}

/** `PublishBatch` and `SendMessageBatch` take up to 10 entries and 256 KiB in all. */
const MAX_BATCH_ENTRIES = 10;
/** Attempts for entries a batch reports as failed (throttled, internal error) before publish rejects. */
const ENTRY_ATTEMPTS = 5;
const entryBackoff = exponential({ initialMs: 50, maxMs: 1_000 });
/** Batches of one standard-queue publish in flight at once. FIFO batches go one after another (order). */
const PARALLEL_BATCHES = 8;

/**
 * Publishes envelopes in batches with per-entry failure handling: entries a batch reports as failed are
 * sent again (same FIFO deduplication id, so a retry is never stored twice), and `publish` resolves only
 * when every entry has been accepted; it rejects with a `TransportError` naming the ids otherwise.
 * Nothing is sent when one envelope is over the size limit (`MESSAGE_TOO_LARGE`).
 */
export class Publisher {
  constructor(
    private readonly sqs: SQSClient,
    private readonly sns: SNSClient,
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
      encoded: encoded[index]!,
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
      results.push(
        ...(await Promise.allSettled(
          batches.slice(i, i + PARALLEL_BATCHES).map((b) => this.#sendBatch(target, b)),
        )),
      );
    }
    const failure = results.find((result) => result.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
  }

  async #sendBatch(target: PublishTarget, batch: readonly Entry[]): Promise<void> {
    let pending = batch;
    for (let attempt = 1; ; attempt++) {
      const failed = await this.#sendOnce(target, pending);
      if (failed.length === 0) return;
      const permanent = failed.filter((f) => f.senderFault);
      if (permanent.length > 0 || attempt >= ENTRY_ATTEMPTS) {
        const shown = (permanent.length > 0 ? permanent : failed).slice(0, 3);
        throw new TransportError(
          `${failed.length} message(s) not accepted by ${target.name} after ${attempt} attempt(s): ` +
            shown.map((f) => `${f.entry.envelope.id} (${f.code}: ${f.message})`).join('; '),
          { code: 'PUBLISH_FAILED', retriable: permanent.length === 0 },
        );
      }
      pending = failed.map((f) => f.entry);
      await abortableDelay(entryBackoff(attempt));
    }
  }

  async #sendOnce(target: PublishTarget, entries: readonly Entry[]): Promise<FailedEntry[]> {
    const byId = new Map(entries.map((entry) => [entry.id, entry]));
    let failed: { Id?: string; Code?: string; Message?: string; SenderFault?: boolean }[];
    try {
      if (target.kind === 'topic') {
        const result = await this.sns.send(
          new PublishBatchCommand({
            TopicArn: target.arn,
            PublishBatchRequestEntries: entries.map(toSnsEntry),
          }),
        );
        failed = result.Failed ?? [];
      } else {
        const result = await this.sqs.send(
          new SendMessageBatchCommand({ QueueUrl: target.url, Entries: entries.map(toSqsEntry) }),
        );
        failed = result.Failed ?? [];
      }
    } catch (error) {
      throw toTransportError(error, `publishing ${entries.length} message(s) to ${target.name}`);
    }
    return failed.map((f) => ({
      entry: byId.get(f.Id ?? '')!,
      code: f.Code ?? 'UNKNOWN',
      message: f.Message ?? '',
      senderFault: f.SenderFault === true,
    }));
  }
}

function toSnsEntry(entry: Entry): PublishBatchRequestEntry {
  return {
    Id: entry.id,
    Message: entry.encoded.body,
    MessageAttributes: entry.encoded.attributes,
    ...(entry.groupId === undefined ? {} : { MessageGroupId: entry.groupId }),
    ...(entry.deduplicationId === undefined ? {} : { MessageDeduplicationId: entry.deduplicationId }),
  };
}

function toSqsEntry(entry: Entry): SendMessageBatchRequestEntry {
  return {
    Id: entry.id,
    MessageBody: entry.encoded.body,
    MessageAttributes: entry.encoded.attributes,
    ...(entry.groupId === undefined ? {} : { MessageGroupId: entry.groupId }),
    ...(entry.deduplicationId === undefined ? {} : { MessageDeduplicationId: entry.deduplicationId }),
  };
}

/** Consecutive runs of at most 10 entries and 256 KiB, in publish order. */
function intoBatches(entries: readonly Entry[]): Entry[][] {
  const batches: Entry[][] = [];
  let current: Entry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (
      current.length === MAX_BATCH_ENTRIES ||
      (current.length > 0 && bytes + entry.encoded.size > MAX_MESSAGE_BYTES)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += entry.encoded.size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
