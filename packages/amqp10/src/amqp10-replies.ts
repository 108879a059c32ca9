import type { EventContext, Receiver } from 'rhea';
import type { Envelope, Logger } from '@omnibus/core';
import { TransportError, toOmnibusError } from '@omnibus/core';
import type { ReplyAddress, ReplySink } from '@omnibus/core/transport';
import { decodeMessage, encodeEnvelope } from './amqp10-codec.js';
import type { Amqp10Connection } from './amqp10-connection.js';
import { toTransportError } from './amqp10-errors.js';
import type { Amqp10Publisher } from './amqp10-publisher.js';

/** What Artemis names a dynamic (temporary) queue: a UUID. */
const FORM = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Reply addresses on AMQP 1.0 (Artemis): a receiver with a dynamic source per asking bus instance, for
 * which the broker makes a temporary queue and names it; it is deleted when the link or the connection
 * closes, so a crashed instance leaves nothing behind. Messages are accepted as they arrive.
 */
export class Amqp10Replies {
  readonly #connection: Amqp10Connection;
  readonly #publisher: Amqp10Publisher;
  readonly #logger: Logger;

  constructor(connection: Amqp10Connection, publisher: Amqp10Publisher, logger: Logger) {
    this.#connection = connection;
    this.#publisher = publisher;
    this.#logger = logger;
  }

  async open(sink: ReplySink): Promise<ReplyAddress> {
    const connection = this.#connection.current('opening a reply address');
    const receiver: Receiver = connection.open_receiver({
      source: { dynamic: true },
      autoaccept: true,
    } as never);
    receiver.on('message', (context: EventContext) => {
      try {
        if (context.message !== undefined) sink(decodeMessage(context.message).envelope);
      } catch (error) {
        this.#logger.warn({ error: toOmnibusError(error).message }, 'reply dropped');
      }
    });
    const address = await new Promise<string>((resolve, reject) => {
      receiver.once('receiver_open', (context: EventContext) => {
        const assigned = (context.receiver?.source as { address?: string } | undefined)?.address;
        if (typeof assigned === 'string' && assigned !== '') resolve(assigned);
        else reject(new TransportError('the broker assigned no address to a dynamic receiver'));
      });
      receiver.once('receiver_error', (context: EventContext) =>
        reject(toTransportError(context.receiver?.error, 'opening a reply address')),
      );
    });
    receiver.on('receiver_error', (context: EventContext) =>
      this.#logger.warn(
        { address, error: toTransportError(context.receiver?.error, 'replies').message },
        'reply receiver error',
      ),
    );
    let closed = false;
    return {
      address,
      close: async () => {
        if (closed) return;
        closed = true;
        receiver.close();
      },
    };
  }

  publish(address: string, reply: Envelope): Promise<void> {
    if (typeof address !== 'string' || !FORM.test(address)) {
      return Promise.reject(
        new TransportError(`${JSON.stringify(address)} is not an AMQP 1.0 reply address`, {
          code: 'INVALID_REPLY_ADDRESS',
          retriable: false,
        }),
      );
    }
    return this.#publisher.publish({ address, capability: 'queue' }, [encodeEnvelope(reply)]);
  }
}
