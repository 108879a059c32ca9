import type { JsMsg } from '@nats-io/jetstream';
import type { Delivery, Envelope, Failure } from '@omnibus/core';

export type Outcome =
  | { readonly kind: 'ack' }
  | { readonly kind: 'retry'; readonly delayMs: number }
  | { readonly kind: 'deadLetter'; readonly failure: Failure };

export const DONE = Promise.resolve();

/**
 * One received JetStream message; settles once, through its consumer. `attempt` is JetStream's delivery
 * count: a `retry` is a NAK with a delay, so the server redelivers to the same durable with the count
 * raised, and a redelivery after a crash or an expired ack wait raises it too.
 */
export class NatsDelivery implements Delivery {
  readonly #receivedAt = Date.now();
  #settled = false;
  /** Admitted through its consumer's key gate (so settling it releases its key). */
  gated = false;

  constructor(
    private readonly settle: (delivery: NatsDelivery, outcome: Outcome) => Promise<void>,
    readonly message: JsMsg,
    readonly envelope: Envelope,
    readonly attempt: number,
  ) {}

  get settled(): boolean {
    return this.#settled;
  }

  get receivedAt(): Date {
    return new Date(this.#receivedAt);
  }

  /** Marks the delivery settled without an outcome (released on close); true if it was not yet. */
  claim(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    return true;
  }

  ack(): Promise<void> {
    return this.claim() ? this.settle(this, { kind: 'ack' }) : DONE;
  }

  retry(delayMs: number): Promise<void> {
    return this.claim() ? this.settle(this, { kind: 'retry', delayMs }) : DONE;
  }

  deadLetter(failure: Failure): Promise<void> {
    return this.claim() ? this.settle(this, { kind: 'deadLetter', failure }) : DONE;
  }
}
