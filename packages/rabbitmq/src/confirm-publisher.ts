import type { ConfirmChannel, Message } from 'amqplib';
import type { Logger, OmnibusError } from '@omnibus/core';
import { TransportError } from '@omnibus/core';
import type { AmqpConnection } from './amqp-connection.js';
import { toTransportError } from './amqp-errors.js';
import type { EncodedMessage } from './amqp-message.js';

/** One message to publish: to an exchange with a routing key, or to a queue (exchange `''`, key = queue). */
export interface Outgoing {
  readonly exchange: string;
  readonly routingKey: string;
  readonly message: EncodedMessage;
}

/** The state of one confirm channel: publishes waiting for a possible `basic.return`, by message id. */
interface Confirming {
  readonly channel: ConfirmChannel;
  readonly awaitingReturn: Map<string, Pending[]>;
}

interface Pending {
  returned: { replyCode: number; replyText: string } | undefined;
}

/**
 * Publishes through one shared confirm channel. `publish` resolves when the broker has confirmed every
 * message of the call (quorum queues confirm once a majority has written it); it rejects with a
 * `TransportError` when one is nacked, returned as unroutable (`mandatory`), or left unconfirmed because
 * the channel or connection closed: never reports an unconfirmed message as sent. When the socket's write
 * buffer is full it waits for `drain` before writing more. A closed channel is replaced on next use.
 */
export class ConfirmPublisher {
  readonly #connection: AmqpConnection;
  readonly #logger: Logger;
  #current: Promise<Confirming> | undefined;

  constructor(connection: AmqpConnection, logger: Logger) {
    this.#connection = connection;
    this.#logger = logger;
  }

  async publish(messages: readonly Outgoing[]): Promise<void> {
    if (messages.length === 0) return;
    const confirming = await this.#open();
    const { channel, awaitingReturn } = confirming;
    let outstanding = messages.length;
    let failure: OmnibusError | undefined;
    let settle!: () => void;
    const confirmed = new Promise<void>((resolve, reject) => {
      settle = () => (failure === undefined ? resolve() : reject(failure));
    });
    const done = (error: OmnibusError | undefined): void => {
      failure ??= error;
      if (--outstanding === 0) settle();
    };

    for (let i = 0; i < messages.length; i++) {
      const { exchange, routingKey, message } = messages[i]!;
      const id = message.options.messageId ?? '';
      const pending: Pending = { returned: undefined };
      const waiting = awaitingReturn.get(id);
      if (waiting === undefined) awaitingReturn.set(id, [pending]);
      else waiting.push(pending);
      let more: boolean;
      try {
        more = channel.publish(exchange, routingKey, message.content, message.options, (error: unknown) => {
          forget(awaitingReturn, id, pending);
          if (error !== null && error !== undefined) {
            done(
              new TransportError(`publish to ${target(exchange, routingKey)} not confirmed by RabbitMQ`, {
                code: 'NOT_CONFIRMED',
                retriable: true,
                cause: error,
              }),
            );
          } else if (pending.returned !== undefined) {
            done(unroutable(exchange, routingKey, pending.returned));
          } else {
            done(undefined);
          }
        });
      } catch (error) {
        forget(awaitingReturn, id, pending);
        const failed = toTransportError(error, `publishing to ${target(exchange, routingKey)}`);
        // Nothing after this message was written: count them all as failed.
        for (let rest = i; rest < messages.length; rest++) done(failed);
        break;
      }
      if (!more) await drained(channel);
    }
    return confirmed;
  }

  #open(): Promise<Confirming> {
    this.#current ??= this.#create().catch((error: unknown) => {
      this.#current = undefined;
      throw error;
    });
    return this.#current;
  }

  async #create(): Promise<Confirming> {
    const model = this.#connection.model();
    let channel: ConfirmChannel;
    try {
      channel = await model.createConfirmChannel();
    } catch (error) {
      throw toTransportError(error, 'opening the publishing channel');
    }
    channel.setMaxListeners(0); // one `drain` listener per waiting publish call
    const confirming: Confirming = { channel, awaitingReturn: new Map() };
    const current = this.#current;
    channel.on('error', (error: Error) => {
      this.#logger.warn({ error: error.message }, 'rabbitmq publishing channel closed by the broker');
    });
    channel.on('close', () => {
      if (this.#current === current) this.#current = undefined;
    });
    // RabbitMQ sends `basic.return` before the confirm of the same message, on the same channel.
    channel.on('return', (message: Message) => {
      const id = typeof message.properties.messageId === 'string' ? message.properties.messageId : '';
      const pending = confirming.awaitingReturn.get(id)?.find((p) => p.returned === undefined);
      if (pending !== undefined) {
        const fields = message.fields as unknown as { replyCode?: number; replyText?: string };
        pending.returned = { replyCode: fields.replyCode ?? 0, replyText: fields.replyText ?? 'returned' };
      }
    });
    return confirming;
  }

  /** Forgets the channel after a reconnect; the next publish opens a new one. */
  reset(): void {
    this.#current = undefined;
  }

  async close(): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    if (current === undefined) return;
    try {
      const { channel } = await current;
      await channel.close();
    } catch {
      // Never opened, or closed with the connection.
    }
  }
}

function forget(awaitingReturn: Map<string, Pending[]>, id: string, pending: Pending): void {
  const waiting = awaitingReturn.get(id);
  if (waiting === undefined) return;
  const index = waiting.indexOf(pending);
  if (index >= 0) waiting.splice(index, 1);
  if (waiting.length === 0) awaitingReturn.delete(id);
}

/** Resolves when the socket accepts writes again, or the channel closes (publishing then fails fast). */
function drained(channel: ConfirmChannel): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      channel.removeListener('drain', done);
      channel.removeListener('close', done);
      resolve();
    };
    channel.once('drain', done);
    channel.once('close', done);
  });
}

function target(exchange: string, routingKey: string): string {
  return exchange === '' ? `queue ${routingKey}` : `exchange ${exchange} (routing key ${routingKey})`;
}

function unroutable(
  exchange: string,
  routingKey: string,
  returned: { replyCode: number; replyText: string },
): TransportError {
  const where =
    exchange === ''
      ? `queue ${routingKey} does not exist`
      : `no queue is bound to exchange ${exchange} for routing key ${routingKey} (no subscriber group yet?)`;
  return new TransportError(
    `message returned as unroutable: ${where} (${returned.replyCode} ${returned.replyText})`,
    {
      code: exchange === '' ? 'NOT_PROVISIONED' : 'UNROUTABLE',
      retriable: true,
      cause: returned,
    },
  );
}
