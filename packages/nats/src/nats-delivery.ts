import type { JsMsg } from '@nats-io/jetstream';
import type { Envelope } from '@omnibus/core';
import type { Delivery, DeliverySettler, Failure } from '@omnibus/core/transport';
import { DONE, SettleOnce } from '@omnibus/core/transport';

/**
 * One received JetStream message; settles once, through its consumer. `attempt` is JetStream's delivery
 * count: a `retry` is a NAK with a delay, so the server redelivers to the same durable with the count
 * raised, and a redelivery after a crash or an expired ack wait raises it too.
 */
export class NatsDelivery implements Delivery {
  readonly #receivedAt = Date.now();
  readonly #once = new SettleOnce();
  /** Admitted through its consumer's key gate (so settling it releases its key). */
  gated = false;
  /** In the sink, holding one of its consumer's `concurrency` slots. */
  active = false;

  constructor(
    private readonly settler: DeliverySettler<NatsDelivery>,
    readonly message: JsMsg,
    readonly envelope: Envelope,
    readonly attempt: number,
  ) {}

  get settled(): boolean {
    return this.#once.claimed;
  }

  get receivedAt(): Date {
    return new Date(this.#receivedAt);
  }

  /** Marks the delivery settled without an outcome (released on close); true if it was not yet. */
  claim(): boolean {
    return this.#once.claim();
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
