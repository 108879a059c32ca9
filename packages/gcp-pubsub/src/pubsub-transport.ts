import type { ClientConfig, Message, Topic } from '@google-cloud/pubsub';
import { Duration, PubSub, SubscriptionCloseBehaviors } from '@google-cloud/pubsub';
import type { Destination, Envelope, Source, Transport } from '@omnibus/core';
import {
  ConfigurationError,
  describeDestination,
  describeSource,
  exponential,
  retry,
  toOmnibusError,
} from '@omnibus/core';
import {
  TransportClosedError,
  type Capabilities,
  type Consumer,
  type ConsumeOptions,
  type DeliverySink,
  type Failure,
  type HealthReport,
  type Topology,
  withFailureHeaders,
  type ReplyAddress,
  type ReplySink,
  type ReplyTransport,
} from '@omnibus/core/transport';
import { AttemptCounter } from './attempt-counter.js';
import { checkPublishable, fitFailureHeaders, toPubSubMessage } from './pubsub-codec.js';
import { PubSubConsumer } from './pubsub-consumer.js';
import type { PubSubDelivery } from './pubsub-delivery.js';
import { toTransportError } from './pubsub-errors.js';
import type { PubSubTransportOptions, ResolvedPubSubOptions } from './pubsub-options.js';
import { resolvePubSubOptions } from './pubsub-options.js';
import type { SubscriptionSpec } from './pubsub-provisioner.js';
import { MAX_DELIVERY_ATTEMPTS, MIN_DELIVERY_ATTEMPTS, PubSubProvisioner } from './pubsub-provisioner.js';
import { PubSubNames } from './pubsub-names.js';
import { withServerDeadLetterReason } from './server-dead-letters.js';
import { PubSubReplies } from './pubsub-replies.js';

/** Pub/Sub's limit on one message (data, attributes and ordering key). */
export const PUBSUB_MAX_MESSAGE_BYTES = 10_000_000;
/** pstest (like most emulators) is a gRPC server with the default 4 MiB request limit; kept clear of it. */
export const EMULATOR_MAX_MESSAGE_BYTES = 4 * 1024 * 1024 - 64 * 1024;
/** Without a `maxDeliveries` in the topology: Pub/Sub's own default. */
const DEFAULT_MAX_DELIVERIES = 5;
/** Acks and nacks are sent at most this long after the handler settles (the library's default is 100). */
const ACK_BATCH_MS = 10;

/**
 * Google Cloud Pub/Sub (or its emulator) as an Omnibus transport, over `@google-cloud/pubsub`.
 *
 * Topology: a topic per channel; a subscription per subscriber group; a topic plus one shared
 * subscription per command queue; for every subscription a dead-letter topic with its own subscription
 * (so dead letters are kept even before anyone reads them) and, unless `deadLetterPolicy: false`, a
 * server dead-letter policy that moves a message there after `maxDeliveries` (5 to 100) deliveries.
 * Channels and queues provisioned `ordered` get subscriptions with message ordering, and their messages
 * are published with the envelope key as the ordering key. See {@link PubSubNames} for the ids.
 *
 * Guarantees: `publish` resolves with the server's message ids once Pub/Sub has stored every message;
 * a failed ordered publish resumes its ordering key so the next publish of that key can go. Delivery is
 * at-least-once; see {@link PubSubConsumer} for flow control, delayed retry and ordering.
 */
export class PubSubTransport implements Transport, ReplyTransport {
  readonly name = 'pubsub';
  readonly capabilities: Capabilities;
  readonly options: ResolvedPubSubOptions;
  readonly #pubsub: PubSub;
  readonly #names: PubSubNames;
  readonly #provisioner: PubSubProvisioner;
  readonly #publishers = new Map<string, Topic>();
  /** Topics provisioned with `ordered: true` by this transport: their messages carry an ordering key. */
  readonly #orderedTopics = new Set<string>();
  readonly #attempts = new Map<string, AttemptCounter>();
  readonly #consumers = new Set<PubSubConsumer>();
  readonly #replies: PubSubReplies;
  #closing: Promise<void> | undefined;

  constructor(options: PubSubTransportOptions) {
    this.options = resolvePubSubOptions(options);
    const { emulatorHost } = this.options;
    this.capabilities = {
      persistent: emulatorHost === undefined,
      consumerGroups: true,
      ordering: 'key',
      delayedRetry: true,
      nativeDeadLetter: this.options.deadLetterPolicy,
      maxMessageBytes: emulatorHost === undefined ? PUBSUB_MAX_MESSAGE_BYTES : EMULATOR_MAX_MESSAGE_BYTES,
      // Google's service cannot be restarted under us; an emulator can, but keeps no messages across it.
      restartable: false,
    };
    const config: ClientConfig = { projectId: this.options.projectId };
    if (emulatorHost !== undefined) {
      config.apiEndpoint = emulatorHost;
      config.emulatorMode = true;
      // Stated, so the auth library does not probe the GCE metadata server to find it out.
      config.universeDomain = 'googleapis.com';
    } else {
      // Explicit, so that PUBSUB_EMULATOR_HOST in the environment cannot redirect an authenticated client.
      config.apiEndpoint = 'https://pubsub.googleapis.com';
      config.emulatorMode = false;
      if (this.options.auth !== undefined) config.auth = this.options.auth;
    }
    this.#pubsub = new PubSub(config);
    this.#names = new PubSubNames(this.options.namePrefix);
    this.#provisioner = new PubSubProvisioner(this.#pubsub, this.options.projectId);
    this.#replies = new PubSubReplies({
      pubsub: this.#pubsub,
      provisioner: this.#provisioner,
      namePrefix: this.options.namePrefix,
      logger: this.options.logger,
      publish: async (topic, id, message) => {
        checkPublishable(message, id, this.capabilities.maxMessageBytes);
        try {
          await this.#publisher(topic).publishMessage(message);
        } catch (error) {
          throw toTransportError(error, `publish a reply to ${topic}`);
        }
      },
    });
  }

  /** Checks that Pub/Sub answers (listing one topic), retrying a few times with backoff. */
  async connect(signal?: AbortSignal): Promise<void> {
    this.#assertOpen();
    await retry(() => this.#ping(), {
      attempts: 5,
      backoff: exponential({ initialMs: 200, maxMs: 2_000 }),
      ...(signal === undefined ? {} : { signal }),
    });
  }

  async #ping(): Promise<void> {
    try {
      await this.#pubsub.getTopics({ pageSize: 1, autoPaginate: false, gaxOpts: { timeout: 5_000 } });
    } catch (error) {
      throw toTransportError(error, `connect to Pub/Sub project ${this.options.projectId}`);
    }
  }

  async provision(topology: Topology): Promise<void> {
    this.#assertOpen();
    const topics = new Set<string>();
    const subscriptions: SubscriptionSpec[] = [];
    const withDeadLetters = (source: Source, ordered: boolean, maxDeliveries: number | undefined) => {
      const { topic, subscription, deadLetterTopic } = this.#names.resources(source);
      topics.add(topic).add(deadLetterTopic);
      subscriptions.push({ name: deadLetterTopic, topic: deadLetterTopic, ordered: false });
      subscriptions.push({
        name: subscription,
        topic,
        ordered,
        ...(this.options.deadLetterPolicy
          ? { deadLetter: { topic: deadLetterTopic, maxDeliveryAttempts: clampDeliveries(maxDeliveries) } }
          : {}),
      });
    };
    for (const channel of topology.channels ?? []) {
      const topic = this.#names.channelTopic(channel.name);
      topics.add(topic);
      if (channel.ordered === true) this.#orderedTopics.add(topic);
    }
    for (const queue of topology.queues ?? []) {
      const ordered = queue.ordered === true;
      if (ordered) this.#orderedTopics.add(this.#names.queueTopic(queue.name));
      withDeadLetters({ kind: 'queue', queue: queue.name }, ordered, queue.maxDeliveries);
    }
    for (const { channel, group, maxDeliveries } of topology.subscriptions ?? []) {
      const ordered = this.#orderedTopics.has(this.#names.channelTopic(channel));
      withDeadLetters({ kind: 'subscription', channel, group }, ordered, maxDeliveries);
    }
    await Promise.all([...topics].map((topic) => this.#provisioner.topic(topic)));
    await Promise.all(subscriptions.map((spec) => this.#provisioner.subscription(spec)));
  }

  async publish(destination: Destination, messages: readonly Envelope[]): Promise<void> {
    await this.publishWithIds(destination, messages);
  }

  /**
   * `publish`, resolving with the server's message ids (in the order of `messages`) once Pub/Sub has
   * stored them all. (`Transport.publish` resolves with nothing.)
   */
  async publishWithIds(destination: Destination, messages: readonly Envelope[]): Promise<string[]> {
    this.#assertOpen();
    return this.#publishTo(
      this.#names.destinationTopic(destination),
      messages,
      describeDestination(destination),
    );
  }

  async #publishTo(topicName: string, envelopes: readonly Envelope[], what: string): Promise<string[]> {
    if (envelopes.length === 0) return [];
    const ordered = this.#orderedTopics.has(topicName);
    const outgoing = envelopes.map((envelope) => {
      const message = toPubSubMessage(envelope, ordered);
      checkPublishable(message, envelope.id, this.capabilities.maxMessageBytes);
      return message;
    });
    const publisher = this.#publisher(topicName);
    if (outgoing.length === 1) {
      // The bus publishes one message per call: no settling of many promises for it.
      const message = outgoing[0]!;
      try {
        return [await publisher.publishMessage(message)];
      } catch (error) {
        if (message.orderingKey !== undefined) publisher.resumePublishing(message.orderingKey);
        throw toTransportError(error, `publish to ${what}`);
      }
    }
    const results = await Promise.allSettled(outgoing.map((message) => publisher.publishMessage(message)));
    const ids: string[] = [];
    let failure: unknown;
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') {
        ids.push(result.value);
        return;
      }
      failure ??= result.reason;
      // A failed ordered publish pauses its key in the library; the caller publishes again, so resume it.
      const key = outgoing[i]!.orderingKey;
      if (key !== undefined) publisher.resumePublishing(key);
    });
    if (failure !== undefined) throw toTransportError(failure, `publish to ${what}`);
    return ids;
  }

  #publisher(topicName: string): Topic {
    let topic = this.#publishers.get(topicName);
    if (topic === undefined) {
      topic = this.#pubsub.topic(topicName, { batching: this.options.batching, messageOrdering: true });
      this.#publishers.set(topicName, topic);
    }
    return topic;
  }

  async consume(source: Source, sink: DeliverySink, options: ConsumeOptions): Promise<Consumer> {
    this.#assertOpen();
    const concurrency = options?.concurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ConfigurationError('concurrency', `must be a positive integer, got ${String(concurrency)}`);
    }
    const resources = this.#names.resources(source);
    const subscription = this.#pubsub.subscription(resources.subscription, {
      flowControl: { maxMessages: concurrency, allowExcessMessages: false },
      batching: { maxMilliseconds: ACK_BATCH_MS },
      closeOptions: {
        behavior: SubscriptionCloseBehaviors.NackImmediately,
        timeout: Duration.from({ seconds: 10 }),
      },
    });
    let ordered: boolean;
    try {
      const [metadata] = await subscription.getMetadata();
      ordered = metadata.enableMessageOrdering === true;
    } catch (error) {
      throw toTransportError(error, `consume ${describeSource(source)}`);
    }
    let attempts = this.#attempts.get(resources.subscription);
    if (attempts === undefined) {
      attempts = new AttemptCounter();
      this.#attempts.set(resources.subscription, attempts);
    }
    const of = source.kind === 'deadLetters' ? source.of : undefined;
    const consumer = new PubSubConsumer({
      source,
      subscription,
      sink,
      concurrency,
      ordered,
      serverAttempts: this.options.emulatorHost === undefined,
      attempts,
      deadLetter: (delivery, failure) =>
        this.#deadLetter(source, resources.deadLetterTopic, delivery, failure),
      ...(of === undefined
        ? {}
        : {
            decorate: (envelope: Envelope, message: Message) =>
              withServerDeadLetterReason(envelope, message.attributes, of, new Date()),
          }),
      logger: this.options.logger,
      onClosed: (closed) => this.#consumers.delete(closed),
    });
    this.#consumers.add(consumer);
    consumer.start();
    return consumer;
  }

  /** A filtered subscription of this instance on the shared reply topic (see `PubSubReplies`). */
  async openReplies(sink: ReplySink): Promise<ReplyAddress> {
    this.#assertOpen();
    return this.#replies.open(sink);
  }

  async publishReply(address: string, reply: Envelope): Promise<void> {
    this.#assertOpen();
    await this.#replies.publish(address, reply);
  }

  /** Framework dead-lettering: the envelope with its failure headers, published to the dead-letter topic. */
  async #deadLetter(
    source: Source,
    topic: string,
    delivery: PubSubDelivery,
    failure: Failure,
  ): Promise<void> {
    const dead = fitFailureHeaders(withFailureHeaders(delivery.envelope, failure, source));
    await this.#publishTo(topic, [dead], `the dead letters of ${describeSource(source)}`);
  }

  async health(): Promise<HealthReport> {
    if (this.#closing !== undefined) return { status: 'down', details: { reason: 'closed' } };
    const details = {
      projectId: this.options.projectId,
      emulator: this.options.emulatorHost ?? false,
      consumers: this.#consumers.size,
      reconnecting: [...this.#consumers].filter((consumer) => consumer.reconnecting).length,
    };
    try {
      await this.#ping();
    } catch (error) {
      return { status: 'down', details: { ...details, error: toOmnibusError(error).message } };
    }
    return { status: details.reconnecting > 0 ? 'degraded' : 'up', details };
  }

  /** Closes the consumers (see `Consumer.close`), sends what the publishers still batch, and disconnects. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await Promise.allSettled([...this.#consumers].map((consumer) => consumer.close()));
    await Promise.allSettled([...this.#publishers.values()].map((topic) => topic.flush()));
    try {
      await this.#pubsub.close();
    } catch (error) {
      this.options.logger.warn({ error: toOmnibusError(error).message }, 'closing the Pub/Sub client failed');
    }
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) {
      throw new TransportClosedError('pubsub');
    }
  }
}

function clampDeliveries(maxDeliveries: number | undefined): number {
  const wanted = maxDeliveries ?? DEFAULT_MAX_DELIVERIES;
  return Math.min(MAX_DELIVERY_ATTEMPTS, Math.max(MIN_DELIVERY_ATTEMPTS, Math.ceil(wanted)));
}
