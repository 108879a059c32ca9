import type { Delivery as RheaDelivery } from 'rhea';
import type { Delivery, Envelope, Failure } from '@omnibus/core';

const DONE = Promise.resolve();

export type Outcome =
  | { readonly kind: 'ack' }
  | { readonly kind: 'retry'; readonly delayMs: number }
  | { readonly kind: 'deadLetter'; readonly failure: Failure };

/** What a delivery settles through: its consumer. */
export type Settle = (delivery: Amqp10Delivery, outcome: Outcome) => Promise<void>;

/**
 * One received message; the first of ack/retry/deadLetter counts, later calls resolve without effect.
 * `epoch` is the link incarnation that carried it: after a reconnect the broker has put it back already,
 * so its settlement must not touch the wire.
 */
export class Amqp10Delivery implements Delivery {
  readonly #receivedAt = Date.now();
  #settled = false;
  /** Handed to the sink and the call has not returned. */
  inSink = false;

  constructor(
    private readonly settle: Settle,
    readonly wire: RheaDelivery,
    readonly epoch: number,
    readonly envelope: Envelope,
    readonly attempt: number,
  ) {}

  get receivedAt(): Date {
    return new Date(this.#receivedAt);
  }

  get settled(): boolean {
    return this.#settled;
  }

  ack(): Promise<void> {
    if (this.#settled) return DONE;
    this.#settled = true;
    return this.settle(this, { kind: 'ack' });
  }

  retry(delayMs: number): Promise<void> {
    if (this.#settled) return DONE;
    this.#settled = true;
    return this.settle(this, { kind: 'retry', delayMs });
  }

  deadLetter(failure: Failure): Promise<void> {
    if (this.#settled) return DONE;
    this.#settled = true;
    return this.settle(this, { kind: 'deadLetter', failure });
  }
}
