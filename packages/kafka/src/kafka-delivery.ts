import type { Delivery, Envelope, Failure } from '@omnibus/core';
import type { PartitionTracker, TrackedEntry } from './partition-tracker.js';
import type { FetchedRecord } from './fetched-record.js';

/** What a delivery asks of its consumer to settle. */
export interface Settler {
  /** Writes the record to the retry topic, due in `delayMs`, with `attempt + 1`. */
  writeRetry(record: FetchedRecord, delayMs: number): Promise<void>;
  /** Writes the envelope, with the failure headers, to the dead-letter topic. */
  writeDeadLetter(record: FetchedRecord, failure: Failure): Promise<void>;
  /** The delivery is settled: its offset may be committed. */
  settled(delivery: KafkaDelivery): void;
}

const DONE = Promise.resolve();

/**
 * One record handed to the sink. The first settlement wins; later calls resolve without effect. A
 * `retry` or `deadLetter` that cannot write its record rejects and leaves the delivery unsettled (it may
 * be settled again, or is delivered again after the consumer closes).
 */
export class KafkaDelivery implements Delivery {
  #state: 'open' | 'settling' | 'settled' = 'open';

  constructor(
    private readonly settler: Settler,
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
    if (this.#state !== 'open') return DONE;
    this.#state = 'settled';
    this.settler.settled(this);
    return DONE;
  }

  retry(delayMs: number): Promise<void> {
    return this.#settleBy(() => this.settler.writeRetry(this.entry.record, delayMs));
  }

  deadLetter(failure: Failure): Promise<void> {
    return this.#settleBy(() => this.settler.writeDeadLetter(this.entry.record, failure));
  }

  async #settleBy(write: () => Promise<void>): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'settling';
    try {
      await write();
    } catch (error) {
      this.#state = 'open';
      throw error;
    }
    this.#state = 'settled';
    this.settler.settled(this);
  }
}
