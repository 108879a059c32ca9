import type { Message } from '@google-cloud/pubsub';
import type { Envelope } from '@omnibus/core';
import type { Delivery, DeliverySettler, Failure } from '@omnibus/core/transport';
import { DONE, SettleOnce } from '@omnibus/core/transport';

/**
 * One received Pub/Sub message. The first of `ack`, `retry` and `deadLetter` counts and is carried out by
 * its consumer; later calls do nothing.
 */
export class PubSubDelivery implements Delivery {
  readonly receivedAt = new Date();
  readonly #once = new SettleOnce();

  constructor(
    private readonly settler: DeliverySettler<PubSubDelivery>,
    readonly message: Message,
    readonly envelope: Envelope,
    readonly attempt: number,
  ) {}

  get settled(): boolean {
    return this.#once.claimed;
  }

  /** Takes the one settlement; false when it is taken already. The consumer uses it to release on close. */
  claim(): boolean {
    return this.#once.claim();
  }

  ack(): Promise<void> {
    return this.#once.claim() ? this.settler.settle(this, { kind: 'ack' }) : DONE;
  }

  retry(delayMs: number): Promise<void> {
    if (!this.#once.claim()) return DONE;
    return this.settler.settle(this, {
      kind: 'retry',
      delayMs: Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0,
    });
  }

  deadLetter(failure: Failure): Promise<void> {
    return this.#once.claim() ? this.settler.settle(this, { kind: 'deadLetter', failure }) : DONE;
  }
}
