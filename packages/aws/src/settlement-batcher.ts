import type { SQSClient } from '@aws-sdk/client-sqs';
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand } from '@aws-sdk/client-sqs';
import { TransportError } from '@omnibus/core';
import { toTransportError } from './aws-errors.js';

interface Pending {
  readonly receiptHandle: string;
  readonly visibilityTimeout?: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Both batch APIs take up to 10 entries. */
const MAX_ENTRIES = 10;

/**
 * Acks (`DeleteMessageBatch`) and visibility changes (`ChangeMessageVisibilityBatch`: retries, heartbeats,
 * releases) of one queue, batched without a timer: when no call of a kind is in flight, what is pending
 * goes at once; while one is, requests gather, and go together (10 at a time) when it returns. So an idle
 * consumer acks with no added latency and a busy one with few calls. Each request's promise settles with
 * its own entry's result.
 */
export class SettlementBatcher {
  readonly #deletes = new Lane((batch) => this.#delete(batch));
  readonly #visibility = new Lane((batch) => this.#changeVisibility(batch));

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly queueName: string,
  ) {}

  delete(receiptHandle: string): Promise<void> {
    return this.#deletes.add(receiptHandle, undefined);
  }

  /** Hides the message for `seconds` more from now (0: visible again at once). */
  changeVisibility(receiptHandle: string, seconds: number): Promise<void> {
    return this.#visibility.add(receiptHandle, seconds);
  }

  async #delete(batch: readonly Pending[]): Promise<void> {
    const result = await this.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: batch.map((p, i) => ({ Id: String(i), ReceiptHandle: p.receiptHandle })),
      }),
    );
    settleEntries(batch, result.Failed ?? [], `acking on ${this.queueName}`);
  }

  async #changeVisibility(batch: readonly Pending[]): Promise<void> {
    const result = await this.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: batch.map((p, i) => ({
          Id: String(i),
          ReceiptHandle: p.receiptHandle,
          VisibilityTimeout: p.visibilityTimeout!,
        })),
      }),
    );
    settleEntries(batch, result.Failed ?? [], `changing visibility on ${this.queueName}`);
  }
}

function settleEntries(
  batch: readonly Pending[],
  failed: readonly { Id?: string; Code?: string; Message?: string; SenderFault?: boolean }[],
  doing: string,
): void {
  const failures = new Map(failed.map((f) => [f.Id, f]));
  batch.forEach((pending, i) => {
    const failure = failures.get(String(i));
    if (failure === undefined) return pending.resolve();
    pending.reject(
      new TransportError(`${doing}: ${failure.Code ?? 'UNKNOWN'}: ${failure.Message ?? ''}`, {
        code: 'SETTLEMENT_FAILED',
        retriable: failure.SenderFault !== true,
      }),
    );
  });
}

/** One kind of batched call: requests gather while a call is in flight. */
class Lane {
  #pending: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(private readonly send: (batch: readonly Pending[]) => Promise<void>) {}

  add(receiptHandle: string, visibilityTimeout: number | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({
        receiptHandle,
        ...(visibilityTimeout === undefined ? {} : { visibilityTimeout }),
        resolve,
        reject,
      });
      if (this.#pending.length >= MAX_ENTRIES) this.#flush();
      else if (this.#inFlight === 0 && !this.#scheduled) {
        // Gather what the same turn of the event loop settles (a batch of handlers finishing together).
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#flush();
        });
      }
    });
  }

  #flush(): void {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, MAX_ENTRIES);
      this.#inFlight++;
      this.send(batch)
        .catch((error: unknown) => {
          const failure = toTransportError(error, 'settling deliveries');
          for (const pending of batch) pending.reject(failure);
        })
        .finally(() => {
          this.#inFlight--;
          if (this.#inFlight === 0 && this.#pending.length > 0) this.#flush();
        });
      if (this.#pending.length < MAX_ENTRIES) break;
    }
  }
}
