import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Envelope, Logger } from '@omnibus/core';
import { TransportError, toOmnibusError, uuidv7 } from '@omnibus/core';
import type { ReplyAddress, ReplySink } from '@omnibus/core/transport';
import { decodeMessage, encodeEnvelope } from './nats-codec.js';
import { toTransportError } from './nats-errors.js';

const FORM = /^_INBOX\.omnibus\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Reply addresses on NATS: a core NATS subscription per asking bus instance on its own inbox subject,
 * `_INBOX.omnibus.<uuid>`, outside JetStream. Not a JetStream consumer with `inactive_threshold`:
 * replies need no storage (a caller that is gone wants none), and a core subscription lives exactly as
 * long as the connection, so nothing at all is left on the server by a crashed instance; the client
 * subscribes again after a reconnect. A reply is a core publish: the server does not confirm it, so a
 * reply for an instance that is gone is lost without an error (its caller is gone too).
 */
export class NatsReplies {
  readonly #connection: () => NatsConnection;
  readonly #logger: Logger;

  constructor(connection: () => NatsConnection, logger: Logger) {
    this.#connection = connection;
    this.#logger = logger;
  }

  async open(sink: ReplySink): Promise<ReplyAddress> {
    const nc = this.#connection();
    const address = `_INBOX.omnibus.${uuidv7()}`;
    let subscription: Subscription;
    try {
      subscription = nc.subscribe(address, {
        callback: (error, message) => {
          if (error !== null) {
            this.#logger.warn({ address, error: error.message }, 'reply subscription error');
            return;
          }
          try {
            sink(decodeMessage(message.headers, message.data));
          } catch (thrown) {
            this.#logger.warn({ address, error: toOmnibusError(thrown).message }, 'reply dropped');
          }
        },
      });
      // The subscription is on the server once a round trip has passed it.
      await nc.flush();
    } catch (error) {
      throw toTransportError(error, `subscribing to ${address}`);
    }
    return {
      address,
      close: async () => {
        if (subscription.isClosed()) return;
        subscription.unsubscribe();
      },
    };
  }

  publish(address: string, reply: Envelope): Promise<void> {
    if (typeof address !== 'string' || !FORM.test(address)) {
      return Promise.reject(
        new TransportError(`${JSON.stringify(address)} is not a NATS reply address`, {
          code: 'INVALID_REPLY_ADDRESS',
          retriable: false,
        }),
      );
    }
    try {
      const message = encodeEnvelope(reply);
      this.#connection().publish(address, message.data, { headers: message.headers });
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(toTransportError(error, `publishing a reply to ${address}`));
    }
  }
}
