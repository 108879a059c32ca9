import type { Message } from '@google-cloud/pubsub';
import type { Delivery, Envelope, Failure } from '@omnibus/core';

/** What a delivery asks of its consumer when it is settled; called once, for the first settlement only. */
export interface Settlement {
  ack(delivery: PubSubDelivery): void;
  retry(delivery: PubSubDelivery, delayMs: number): void;
  deadLetter(delivery: PubSubDelivery, failure: Failure): Promise<void>;
}

const DONE = Promise.resolve();

/** One received Pub/Sub message. The first of `ack`, `retry` and `deadLetter` counts; later calls do nothing. */
export class PubSubDelivery implements Delivery {
  readonly receivedAt = new Date();
  #settled = false;

  constructor(
    readonly message: Message,
    readonly envelope: Envelope,
    readonly attempt: number,
    private readonly settlement: Settlement,
  ) {}

  get settled(): boolean {
    return this.#settled;
  }

  /** Takes the one settlement; false when it is taken already. The consumer uses it to release on close. */
  claim(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    return true;
  }

  ack(): Promise<void> {
    if (this.claim()) this.settlement.ack(this);
    return DONE;
  }

  retry(delayMs: number): Promise<void> {
    if (this.claim()) this.settlement.retry(this, Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0);
    return DONE;
  }

  deadLetter(failure: Failure): Promise<void> {
    return this.claim() ? this.settlement.deadLetter(this, failure) : DONE;
  }
}
