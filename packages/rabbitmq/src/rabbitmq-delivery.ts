import type { Channel, ConsumeMessage } from 'amqplib';
import type { Envelope } from '@omnibus/core';
import type { Delivery, DeliverySettler, Failure, KeyOrderGate } from '@omnibus/core/transport';
import { DONE, SettleOnce } from '@omnibus/core/transport';
import type { AckBatcher } from './ack-batcher.js';

/**
 * A consumer's life on one AMQP channel. Delivery tags mean something only on the channel that carried
 * them, so every delivery remembers its attachment; once that channel is gone its settlements do nothing
 * (the broker has already put the message back), and a new attachment starts afresh.
 */
export interface Attachment {
  readonly channel: Channel;
  consumerTag: string | undefined;
  open: boolean;
  readonly gate: KeyOrderGate<RabbitMqDelivery>;
  /** Admitted while paused: handed out on `resume`. */
  readonly held: RabbitMqDelivery[];
  readonly acks: AckBatcher;
}

/** One received message; the first settlement counts and is carried out by its consumer. */
export class RabbitMqDelivery implements Delivery {
  readonly #receivedAt = Date.now();
  readonly #once = new SettleOnce();

  constructor(
    private readonly settler: DeliverySettler<RabbitMqDelivery>,
    readonly attachment: Attachment,
    readonly message: ConsumeMessage,
    readonly envelope: Envelope,
    readonly attempt: number,
  ) {}

  get receivedAt(): Date {
    return new Date(this.#receivedAt);
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
