import type { Envelope } from '@omnibus/core';
import type { Delivery, Failure } from '@omnibus/core/transport';
import { DONE, SettleOnce } from '@omnibus/core/transport';
import type { FetchedRecord } from './fetched-record.js';
import type { PartitionTracker, TrackedEntry } from './partition-tracker.js';

/** How a delivery was settled: what its consumer carries out. */
export type Outcome =
  | { readonly kind: 'ack' }
  | { readonly kind: 'retry'; readonly delayMs: number }
  | { readonly kind: 'deadLetter'; readonly failure: Failure };

/** What a delivery asks of its consumer: carry out its one settlement. */
export interface DeliverySettler {
  /**
   * An ack settles at once and returns `DONE`; a retry or dead letter writes its record first, then
   * settles. A write that fails rejects, and the record is delivered again (as a new delivery).
   */
  settle(delivery: KafkaDelivery, outcome: Outcome): Promise<void>;
}

/**
 * One record handed to the sink. The first settlement wins; later calls resolve without effect. A
 * `retry` or `deadLetter` that cannot write its record rejects, and its consumer delivers the record
 * again shortly (a new delivery, same attempt); this one stays spent.
 */
export class KafkaDelivery implements Delivery {
  readonly #once = new SettleOnce();

  constructor(
    private readonly settler: DeliverySettler,
    readonly tracker: PartitionTracker<FetchedRecord>,
    readonly entry: TrackedEntry<FetchedRecord>,
  ) {}

  get envelope(): Envelope {
    return this.entry.record.envelope;
  }

  get attempt(): number {
    return this.entry.record.attempt;
  }

  get receivedAt(): Date {
    return this.entry.record.receivedAt;
  }

  ack(): Promise<void> {
    return this.#once.claim() ? this.settler.settle(this, { kind: 'ack' }) : DONE;
  }

  retry(delayMs: number): Promise<void> {
    return this.#settleBy({ kind: 'retry', delayMs });
  }

  deadLetter(failure: Failure): Promise<void> {
    return this.#settleBy({ kind: 'deadLetter', failure });
  }

  #settleBy(outcome: Outcome): Promise<void> {
    return this.#once.claim() ? this.settler.settle(this, outcome) : DONE;
  }
}
