import type { Delivery, Envelope, Failure } from '@omnibus/core';
import { TransportError } from '@omnibus/core';

/** What settles a delivery on the broker: the consumer it came from. */
export interface DeliveryHost {
  /** False for a dead-letter queue's consumer: a dead-letter queue has no dead-letter queue. */
  readonly canDeadLetter: boolean;
  ack(delivery: SqsDelivery): Promise<void>;
  retry(delivery: SqsDelivery, delayMs: number): Promise<void>;
  deadLetter(delivery: SqsDelivery, failure: Failure): Promise<void>;
}

const DONE = Promise.resolve();

/**
 * One received SQS message. The first of `ack`, `retry` and `deadLetter` claims it and is carried out;
 * later calls resolve at once without effect.
 */
export class SqsDelivery implements Delivery {
  readonly receivedAt = new Date();
  /** When the message becomes visible to other consumers unless the heartbeat extends it (epoch ms). */
  visibleUntil: number;
  #claimed = false;

  constructor(
    private readonly host: DeliveryHost,
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
    return this.#claimed;
  }

  /** Takes the delivery for one settlement; false when something else took it first. */
  claim(): boolean {
    if (this.#claimed) return false;
    this.#claimed = true;
    return true;
  }

  ack(): Promise<void> {
    return this.claim() ? this.host.ack(this) : DONE;
  }

  retry(delayMs: number): Promise<void> {
    return this.claim() ? this.host.retry(this, delayMs) : DONE;
  }

  deadLetter(failure: Failure): Promise<void> {
    if (!this.host.canDeadLetter) {
      return Promise.reject(
        new TransportError('a dead letter cannot be dead-lettered again: ack it, or replay it', {
          code: 'NOT_SUPPORTED',
          retriable: false,
        }),
      );
    }
    return this.claim() ? this.host.deadLetter(this, failure) : DONE;
  }
}
