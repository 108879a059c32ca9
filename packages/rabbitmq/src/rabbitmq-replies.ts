import type { Channel, ChannelModel } from 'amqplib';
import type { Envelope, Logger } from '@omnibus/core';
import { TransportError, toOmnibusError, uuidv7 } from '@omnibus/core';
import type { ReplyAddress, ReplySink } from '@omnibus/core/transport';
import type { ConfirmPublisher } from './confirm-publisher.js';
import { decodeMessage, encodeEnvelope } from './rabbitmq-codec.js';
import type { RabbitMqConnection } from './rabbitmq-connection.js';
import { toTransportError } from './rabbitmq-errors.js';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/**
 * Reply addresses on RabbitMQ: one exclusive, auto-delete classic queue per bus instance,
 * `<prefix>omnibus.reply.<uuid>`, consumed without acks. The broker deletes an exclusive queue with the
 * connection that declared it, so what a crashed instance leaves behind disappears with its TCP
 * connection; after a reconnect the queue is declared again under the same name (replies sent during
 * the outage are lost, and their callers time out). Not direct reply-to (`amq.rabbitmq.reply-to`): it
 * requires requests to go out on the consuming channel, outside publisher confirms.
 * A reply is published to the default exchange with `mandatory`, so one for a queue that is gone comes
 * back as `UNROUTABLE` instead of vanishing.
 */
export class RabbitMqReplies {
  readonly #connection: RabbitMqConnection;
  readonly #publisher: ConfirmPublisher;
  readonly #logger: Logger;
  readonly #form: RegExp;
  readonly #prefix: string;

  constructor(connection: RabbitMqConnection, publisher: ConfirmPublisher, prefix: string, logger: Logger) {
    this.#connection = connection;
    this.#publisher = publisher;
    this.#logger = logger;
    this.#prefix = `${prefix}omnibus.reply.`;
    this.#form = new RegExp(`^${this.#prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${UUID}$`);
  }

  async open(sink: ReplySink): Promise<ReplyAddress> {
    const address = `${this.#prefix}${uuidv7()}`;
    let channel: Channel | undefined;
    let closed = false;
    const attach = async (model: ChannelModel): Promise<void> => {
      if (closed) return;
      try {
        const opened = await model.createChannel();
        opened.on('error', (error: Error) =>
          this.#logger.warn({ address, error: error.message }, 'rabbitmq reply channel error'),
        );
        await opened.assertQueue(address, {
          exclusive: true,
          autoDelete: true,
          durable: false,
          arguments: { 'x-queue-type': 'classic' },
        });
        await opened.consume(
          address,
          (message) => {
            if (message === null) return;
            try {
              sink(decodeMessage(message).envelope);
            } catch (error) {
              this.#logger.warn({ address, error: toOmnibusError(error).message }, 'reply dropped');
            }
          },
          { noAck: true, exclusive: true },
        );
        channel = opened;
      } catch (error) {
        throw toTransportError(error, `opening reply queue ${address}`);
      }
    };
    await attach(this.#connection.model());
    this.#connection.onRecovery((model) => attach(model));
    return {
      address,
      close: async () => {
        if (closed) return;
        closed = true;
        const open = channel;
        channel = undefined;
        if (open === undefined) return;
        await open.deleteQueue(address).catch(() => undefined);
        await open.close().catch(() => undefined);
      },
    };
  }

  publish(address: string, reply: Envelope): Promise<void> {
    if (typeof address !== 'string' || !this.#form.test(address)) {
      return Promise.reject(
        new TransportError(`${JSON.stringify(address)} is not a RabbitMQ reply address of this prefix`, {
          code: 'INVALID_REPLY_ADDRESS',
          retriable: false,
        }),
      );
    }
    const message = encodeEnvelope(reply);
    return this.#publisher.publish([
      {
        exchange: '',
        routingKey: address,
        message: { ...message, options: { ...message.options, persistent: false } },
      },
    ]);
  }
}
