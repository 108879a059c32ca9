import type { PubSub, Subscription } from '@google-cloud/pubsub';
import type { Envelope, Logger } from '@omnibus/core';
import { TransportError, toOmnibusError, uuidv7 } from '@omnibus/core';
import type { ReplyAddress, ReplySink } from '@omnibus/core/transport';
import type { OutgoingMessage } from './pubsub-codec.js';
import { fromPubSubMessage, toPubSubMessage } from './pubsub-codec.js';
import { toTransportError } from './pubsub-errors.js';
import type { PubSubProvisioner } from './pubsub-provisioner.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The attribute a reply's subscription filters on: letters only, so the filter needs no quoting. */
const ADDRESS_ATTRIBUTE = 'omnibusreplyto';

export interface PubSubRepliesDeps {
  readonly pubsub: PubSub;
  readonly provisioner: PubSubProvisioner;
  readonly namePrefix: string;
  readonly logger: Logger;
  /** Publishes Pub/Sub messages to a topic, resolving once stored. */
  readonly publish: (topic: string, id: string, message: OutgoingMessage) => Promise<void>;
}

/**
 * Reply addresses on Pub/Sub: one shared topic, `<prefix>omnibus.replies`, and a subscription per asking
 * instance, `<prefix>omnibus.reply.<uuid>`, filtered by the server on the `omnibusreplyto` attribute, so
 * each instance receives only its own replies. `close` deletes the subscription; one left by a crashed
 * instance expires after a day without a pull (`expirationPolicy`, Pub/Sub's minimum), its messages
 * after 10 minutes. The address is the uuid.
 */
export class PubSubReplies {
  readonly #deps: PubSubRepliesDeps;
  readonly #topic: string;

  constructor(deps: PubSubRepliesDeps) {
    this.#deps = deps;
    this.#topic = `${deps.namePrefix}omnibus.replies`;
  }

  async open(sink: ReplySink): Promise<ReplyAddress> {
    const { pubsub, provisioner, logger } = this.#deps;
    await provisioner.topic(this.#topic);
    const id = uuidv7();
    const name = `${this.#deps.namePrefix}omnibus.reply.${id}`;
    let subscription: Subscription;
    try {
      [subscription] = await pubsub.createSubscription(this.#topic, name, {
        filter: `attributes.${ADDRESS_ATTRIBUTE} = "${id}"`,
        expirationPolicy: { ttl: { seconds: 24 * 60 * 60 } },
        messageRetentionDuration: { seconds: 10 * 60 },
      });
    } catch (error) {
      throw toTransportError(error, `creating reply subscription ${name}`);
    }
    subscription.on('message', (message: { ack(): void } & Parameters<typeof fromPubSubMessage>[0]) => {
      message.ack();
      sink(fromPubSubMessage(message));
    });
    subscription.on('error', (error: Error) =>
      logger.warn({ subscription: name, error: toOmnibusError(error).message }, 'reply subscription error'),
    );
    let closed = false;
    return {
      address: id,
      close: async () => {
        if (closed) return;
        closed = true;
        await subscription.close().catch(() => undefined);
        await subscription
          .delete()
          .catch((error: unknown) =>
            logger.warn(
              { subscription: name, error: toOmnibusError(error).message },
              'reply subscription not deleted',
            ),
          );
      },
    };
  }

  async publish(address: string, reply: Envelope): Promise<void> {
    if (typeof address !== 'string' || !UUID.test(address)) {
      throw new TransportError(`${JSON.stringify(address)} is not a Pub/Sub reply address`, {
        code: 'INVALID_REPLY_ADDRESS',
        retriable: false,
      });
    }
    const message = toPubSubMessage(reply, false);
    await this.#deps.publish(this.#topic, reply.id, {
      ...message,
      attributes: { ...message.attributes, [ADDRESS_ATTRIBUTE]: address },
    });
  }
}
