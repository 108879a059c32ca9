/**
 * Request/reply on Pub/Sub for `npm run bench -- rpc pubsub`: the bus's transport with its defaults and
 * bare @google-cloud/pubsub doing the same pattern, against the emulator at PUBSUB_EMULATOR_HOST
 * (default the lab's pstest). Each side runs in a project of its own, deleted when the side closes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Message } from '@google-cloud/pubsub';
import { Duration, PubSub, SubscriptionCloseBehaviors } from '@google-cloud/pubsub';
import { PubSubTransport } from '@omnibus/gcp-pubsub';

const emulatorHost = process.env.PUBSUB_EMULATOR_HOST ?? '127.0.0.1:8085';
/** The transport's defaults, which are also the client library's. */
const BATCHING = { maxMessages: 100, maxMilliseconds: 10, maxBytes: 1024 * 1024 };
/** The responder's flow control: the handler's concurrency in the bus. */
const FLOW_CONTROL = 64;
/** How long acks gather before they go (the transport's). */
const ACK_BATCH_MS = 10;

/** A fresh project id for one side of the benchmark. */
export const pubsubProject = (): string => `omnibus-rpc-${randomBytes(4).toString('hex')}`;

const client = (projectId: string) =>
  new PubSub({ projectId, apiEndpoint: emulatorHost, emulatorMode: true, universeDomain: 'googleapis.com' });

/** The bus's transport, with its defaults (no server-side dead-letter policy with an emulator). */
export const pubsubTransport = (projectId: string): PubSubTransport =>
  new PubSubTransport({ projectId, emulatorHost });

/**
 * Bare Pub/Sub: a request topic with one subscription, read by the responder with streaming pull (flow
 * control 64, acks batched for 10 ms, as the transport's consumer), and a reply topic with one
 * subscription, read by the requester (the library's defaults, as the transport's reply subscription).
 * Publishers batch as the transport's (up to 100 messages / 10 ms); a publish is awaited until the
 * server has the message. A request carries its correlation id as an attribute; the responder publishes
 * the reply, waits for the server to have it, and only then acks the request (acks after handling).
 */
export async function rawPubSub(projectId: string) {
  const pubsub = client(projectId);
  const name = `raw-${randomUUID()}`;
  const [requestTopic] = await pubsub.createTopic(`${name}-requests`);
  const [replyTopic] = await pubsub.createTopic(`${name}-replies`);
  await requestTopic.createSubscription(`${name}-requests`);
  await replyTopic.createSubscription(`${name}-replies`);
  requestTopic.setPublishOptions({ batching: BATCHING });
  replyTopic.setPublishOptions({ batching: BATCHING });
  const closeOptions = {
    behavior: SubscriptionCloseBehaviors.NackImmediately,
    timeout: Duration.from({ seconds: 10 }),
  };
  const requests = pubsub.subscription(`${name}-requests`, {
    flowControl: { maxMessages: FLOW_CONTROL, allowExcessMessages: false },
    batching: { maxMilliseconds: ACK_BATCH_MS },
    closeOptions,
  });
  const replies = pubsub.subscription(`${name}-replies`, { closeOptions });
  const failed = (error: unknown) => console.error('raw Pub/Sub subscription error', error);
  requests.on('error', failed);
  replies.on('error', failed);
  requests.on('message', (request: Message) => {
    replyTopic
      .publishMessage({
        data: request.data,
        attributes: { 'correlation-id': request.attributes['correlation-id']! },
      })
      .then(
        () => request.ack(),
        (error: unknown) => {
          failed(error);
          request.nack();
        },
      );
  });
  const pending = new Map<string, () => void>();
  replies.on('message', (reply: Message) => {
    const correlation = reply.attributes['correlation-id']!;
    pending.get(correlation)?.();
    pending.delete(correlation);
    reply.ack();
  });
  return {
    ask: async (n: number) => {
      const correlation = randomUUID();
      const replied = new Promise<void>((resolve) => pending.set(correlation, resolve));
      await requestTopic.publishMessage({
        data: Buffer.from(JSON.stringify({ n })),
        attributes: { 'correlation-id': correlation },
      });
      await replied;
    },
    close: async () => {
      await Promise.all([requests.close(), replies.close()]);
      await pubsub.close();
    },
  };
}

/** Deletes a side's project: pstest keeps every topic, and the broker lab saves them across restarts. */
export async function deletePubSubProject(projectId: string): Promise<void> {
  const pubsub = client(projectId);
  try {
    const [subscriptions] = await pubsub.getSubscriptions();
    await Promise.all(subscriptions.map((subscription) => subscription.delete()));
    const [topics] = await pubsub.getTopics();
    await Promise.all(topics.map((topic) => topic.delete()));
  } finally {
    await pubsub.close();
  }
}
