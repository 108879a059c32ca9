import type { Envelope } from '@omnibus/core';
import { TransportError } from '@omnibus/core';
import type { Delivery, DeliverySettler, Failure } from '@omnibus/core/transport';
import { DONE, SettleOnce } from '@omnibus/core/transport';

/**
 * One received SQS message. The first of `ack`, `retry` and `deadLetter` claims it and is carried out by
 * its consumer; later calls resolve at once without effect.
 */
export class AwsDelivery implements Delivery {
  readonly receivedAt = new Date();
  /** When the message becomes visible to other consumers unless the heartbeat extends it (epoch ms). */
  visibleUntil: number;
  readonly #once = new SettleOnce();

  constructor(
    private readonly settler: DeliverySettler<AwsDelivery>,
    /** False for a dead-letter queue's delivery: a dead-letter queue has no dead-letter queue. */
    private readonly canDeadLetter: boolean,
    readonly envelope: Envelope,
    readonly attempt: number,
    readonly receiptHandle: string,
    /** The SQS message id (not the envelope's): distinguishes two receipts of one envelope. */
    readonly messageId: string,
    /** The FIFO message group, undefined on a standard queue. */
    readonly groupId: string | undefined,
    visibilityTimeoutSeconds: number,
  ) {
    this.visibleUntil = this.receivedAt.getTime() + visibilityTimeoutSeconds * 1_000;
  }

  /** Whether a settlement (or the release on close) has claimed this delivery. */
  get claimed(): boolean {
    return this.#once.claimed;
  }

  /** Takes the delivery for one settlement; false when something else took it first. */
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
    if (!this.canDeadLetter) {
      return Promise.reject(
        new TransportError('a dead letter cannot be dead-lettered again: ack it, or replay it', {
          code: 'NOT_SUPPORTED',
          retriable: false,
        }),
      );
    }
    return this.#once.claim() ? this.settler.settle(this, { kind: 'deadLetter', failure }) : DONE;
  }
}
