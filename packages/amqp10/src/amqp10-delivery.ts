import type { Delivery as RheaDelivery } from 'rhea';
import type { Envelope } from '@omnibus/core';
import type { Delivery, DeliverySettler, Failure } from '@omnibus/core/transport';
import { DONE, SettleOnce } from '@omnibus/core/transport';

/**
 * One received message; the first of ack/retry/deadLetter counts and is carried out by its consumer, later
 * calls resolve without effect. `epoch` is the link incarnation that carried it: after a reconnect the
 * broker has put it back already, so its settlement must not touch the wire.
 */
export class Amqp10Delivery implements Delivery {
  readonly #receivedAt = Date.now();
  readonly #once = new SettleOnce();
  /** Handed to the sink and the call has not returned. */
  inSink = false;
  /** Admitted through its consumer's key gate (so settling it releases its key). */
  gated = false;

  constructor(
    private readonly settler: DeliverySettler<Amqp10Delivery>,
    readonly wire: RheaDelivery,
    readonly epoch: number,
    readonly envelope: Envelope,
    readonly attempt: number,
  ) {}

  get receivedAt(): Date {
    return new Date(this.#receivedAt);
  }

  get settled(): boolean {
    return this.#once.claimed;
  }

  ack(): Promise<void> {
    return this.#once.claim() ? this.settler.settle(this, { kind: 'ack' }) : DONE;
  }

  retry(delayMs: number): Promise<void> {
    return this.#once.claim() ? this.settler.settle(this, { kind: 'retry', delayMs }) : DONE;
  }

  deadLetter(failure: Failure): Promise<void> {
    return this.#once.claim() ? this.settler.settle(this, { kind: 'deadLetter', failure }) : DONE;
  }
}
