import type {
  Capabilities,
  Consumer,
  ConsumeOptions,
  DeliverySink,
  Destination,
  Envelope,
  HealthReport,
  Source,
  Topology,
  Transport,
} from '@omnibus/core';
import {
  ConfigurationError,
  exponential,
  retry,
  describeDestination,
  describeSource,
  envelopeSize,
  toOmnibusError,
  TransportError,
} from '@omnibus/core';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Message, Producer, SASLOptions, TopicMessages } from 'kafkajs';
import { Kafka } from 'kafkajs';
import { KafkaConsumer } from './kafka-consumer.js';
import { toTransportError } from './kafka-errors.js';
import { KAFKAJS_LOG_LEVEL, kafkaLogCreator } from './kafka-log.js';
import { KafkaNames } from './kafka-names.js';
import type { KafkaTransportOptions, ResolvedKafkaOptions } from './kafka-options.js';
import { resolveKafkaOptions } from './kafka-options.js';
import { commitAsNewMember } from './group-positioner.js';
import { ProduceQueue } from './produce-queue.js';
import { toKafkaMessage } from './record-codec.js';
import { StablePartitioner } from './stable-partitioner.js';

/** Room on top of `maxMessageBytes` in each topic's `max.message.bytes`: record overhead, dead-letter reasons. */
const TOPIC_HEADROOM_BYTES = 64 * 1024;
/** How long `provision` waits for the partitions of new topics to get leaders. */
const TOPIC_CREATION_TIMEOUT_MS = 30_000;

interface ProducerSlot {
  readonly producer: Producer;
  readonly connected: Promise<void>;
}

/**
 * Omnibus over Apache Kafka (kafkajs). Channels and queues are topics (created by `provision`; brokers
 * usually run with auto-creation off); each subscription and each queue is a consumer group; retries go
 * through a retry topic per group and wait for their due time without blocking the partition; dead
 * letters go to a topic per group. The producer is idempotent with `acks: -1`: `publish` resolves once
 * every in-sync replica has the messages. See docs/kafka.md.
 */
export class KafkaTransport implements Transport {
  readonly name = 'kafka';
  readonly capabilities: Capabilities;
  readonly #options: ResolvedKafkaOptions;
  readonly #names: KafkaNames;
  readonly #kafka: Kafka;
  #admin: Admin | undefined;
  #connecting: Promise<void> | undefined;
  #producerSlot: ProducerSlot | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #knownTopics = new Set<string>();
  #listingTopics: Promise<void> | undefined;
  readonly #initialisedGroups = new Set<string>();
  readonly #consumers = new Set<KafkaConsumer>();
  readonly #sends = new Set<Promise<unknown>>();
  readonly #produceQueue: ProduceQueue;

  constructor(options: KafkaTransportOptions = {}) {
    this.#options = resolveKafkaOptions(options);
    this.#names = new KafkaNames(this.#options.namePrefix, this.#options.deadLetterTopic);
    this.#produceQueue = new ProduceQueue((batch) => this.#sendBatch(batch), this.#options.maxMessageBytes);
    this.capabilities = {
      persistent: true,
      consumerGroups: true,
      ordering: 'key',
      delayedRetry: true,
      nativeDeadLetter: false,
      maxMessageBytes: this.#options.maxMessageBytes,
      restartable: true,
    };
    const { brokers, clientId, ssl, sasl, logger } = this.#options;
    this.#kafka = new Kafka({
      brokers: [...brokers],
      clientId,
      ...(ssl === undefined ? {} : { ssl }),
      ...(sasl === undefined ? {} : { sasl: { ...sasl } as SASLOptions }),
      logLevel: KAFKAJS_LOG_LEVEL,
      logCreator: kafkaLogCreator(logger),
    });
  }

  /** The topic and group names this transport uses for a source: for tools, tests and the CLI. */
  get names(): KafkaNames {
    return this.#names;
  }

  /** Connects the admin client and the producer. Idempotent; the other methods call it when needed. */
  async connect(signal?: AbortSignal): Promise<void> {
    this.#assertOpen();
    signal?.throwIfAborted();
    this.#connecting ??= this.#connect().catch((error: unknown) => {
      this.#connecting = undefined;
      throw toTransportError(error, 'connecting');
    });
    if (signal === undefined) return this.#connecting;
    await Promise.race([
      this.#connecting,
      new Promise<never>((_, reject) => {
        if (signal.aborted) reject(toOmnibusError(signal.reason));
        signal.addEventListener('abort', () => reject(toOmnibusError(signal.reason)), { once: true });
      }),
    ]);
  }

  async #connect(): Promise<void> {
    const admin = this.#kafka.admin();
    await admin.connect();
    this.#admin = admin;
    await this.#producer();
  }

  async provision(topology: Topology): Promise<void> {
    this.#assertOpen();
    await this.connect();
    const topics = new Set<string>();
    for (const channel of topology.channels ?? []) topics.add(this.#names.channelTopic(channel.name));
    for (const queue of topology.queues ?? []) {
      const names = this.#names.of({ kind: 'queue', queue: queue.name });
      topics.add(names.mainTopic).add(names.retryTopic).add(names.deadLetterTopic);
    }
    const subscriptions = (topology.subscriptions ?? []).map((s) =>
      this.#names.of({ kind: 'subscription', channel: s.channel, group: s.group }),
    );
    for (const names of subscriptions)
      topics.add(names.mainTopic).add(names.retryTopic).add(names.deadLetterTopic);
    await this.#createTopics([...topics]);
    await Promise.all(subscriptions.map((names) => this.#startGroupAtEnd(names.groupId, names.mainTopic)));
  }

  async publish(destination: Destination, messages: readonly Envelope[]): Promise<void> {
    this.#assertOpen();
    if (messages.length === 0) return;
    const topic =
      destination.kind === 'channel'
        ? this.#names.channelTopic(destination.channel)
        : this.#names.queueTopic(destination.queue);
    const limit = this.capabilities.maxMessageBytes;
    for (const envelope of messages) {
      const size = envelopeSize(envelope);
      if (size > limit) {
        throw new TransportError(`message ${envelope.id} is ${size} bytes, over the limit of ${limit}`, {
          code: 'MESSAGE_TOO_LARGE',
          retriable: false,
        });
      }
    }
    if (!this.#knownTopics.has(topic)) {
      await this.connect();
      await this.#assertTopicExists(topic, describeDestination(destination));
    }
    // The producer connects on first use (`#producer`); a known topic needs no other round trip.
    await this.#send(topic, messages.map(toKafkaMessage));
  }

  async consume(source: Source, sink: DeliverySink, options: ConsumeOptions): Promise<Consumer> {
    this.#assertOpen();
    if (!Number.isInteger(options?.concurrency) || options.concurrency < 1) {
      throw new ConfigurationError('concurrency', 'must be a positive integer');
    }
    await this.connect();
    const topology = this.#names.of(source);
    if (!this.#knownTopics.has(topology.mainTopic)) {
      await this.#assertTopicExists(topology.mainTopic, describeSource(source));
    }
    // Sources provisioned by an older version or another tool may lack their retry and dead-letter topics.
    await this.#createTopics([topology.retryTopic, topology.deadLetterTopic]);
    this.#assertOpen();
    const consumer = await KafkaConsumer.start({
      kafka: this.#kafka,
      admin: this.#admin!,
      source,
      topology,
      sink,
      concurrency: options.concurrency,
      options: this.#options,
      produce: (topic, records) => this.#send(topic, records),
      onClosed: (closed) => this.#consumers.delete(closed),
    });
    this.#consumers.add(consumer);
    if (this.#closed) await consumer.close();
    return consumer;
  }

  async health(): Promise<HealthReport> {
    if (this.#closed) return { status: 'down', details: { reason: 'closed' } };
    try {
      await this.connect();
      const cluster = await this.#admin!.describeCluster();
      const crashed = [...this.#consumers].filter((consumer) => consumer.crash !== undefined);
      return {
        status: crashed.length > 0 ? 'degraded' : 'up',
        details: {
          brokers: cluster.brokers.length,
          consumers: this.#consumers.size,
          ...(crashed.length === 0
            ? {}
            : { crashed: crashed.map((c) => ({ group: c.groupId, error: c.crash!.message })) }),
        },
      };
    } catch (error) {
      return { status: 'down', details: { error: toOmnibusError(error).message } };
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await Promise.allSettled([...this.#consumers].map((consumer) => consumer.close()));
    await Promise.allSettled([...this.#sends]);
    await this.#connecting?.catch(() => undefined);
    const slot = this.#producerSlot;
    this.#producerSlot = undefined;
    await Promise.allSettled([slot?.producer.disconnect(), this.#admin?.disconnect()]);
  }

  /** Queues records for the idempotent producer; resolves once every in-sync replica has them. */
  async #send(topic: string, messages: Message[]): Promise<void> {
    const sending = this.#produceQueue.enqueue(topic, messages);
    this.#sends.add(sending);
    try {
      await sending;
    } finally {
      this.#sends.delete(sending);
    }
  }

  /** One produce request per broker, `acks: -1` (kafkajs groups the records by partition). */
  async #sendBatch(topicMessages: TopicMessages[]): Promise<void> {
    const slot = await this.#producer();
    try {
      await slot.producer.sendBatch({ topicMessages, acks: -1 });
    } catch (error) {
      const failure = toTransportError(
        error,
        `publishing to ${topicMessages.map((t) => t.topic).join(', ')}`,
      );
      // After a send whose outcome is unknown, a new producer (a new producer id) makes sure a later
      // send never reuses sequence numbers the broker may have seen, which it would drop as duplicates.
      if (failure.retriable) this.#retireProducer(slot);
      throw failure;
    }
  }

  async #producer(): Promise<ProducerSlot> {
    if (this.#closed) throw closedError();
    let slot = this.#producerSlot;
    if (slot === undefined) {
      const producer = this.#kafka.producer({
        idempotent: true,
        allowAutoTopicCreation: false,
        createPartitioner: StablePartitioner,
        retry: { retries: this.#options.publishRetries },
      });
      const created: ProducerSlot = { producer, connected: producer.connect() };
      slot = created;
      this.#producerSlot = created;
      created.connected.catch(() => this.#retireProducer(created));
    }
    try {
      await slot.connected;
    } catch (error) {
      throw toTransportError(error, 'connecting the producer');
    }
    return slot;
  }

  #retireProducer(slot: ProducerSlot): void {
    if (this.#producerSlot !== slot) return;
    this.#producerSlot = undefined;
    void slot.producer.disconnect().catch(() => undefined);
  }

  /** Creates the topics that do not exist yet. */
  async #createTopics(topics: readonly string[]): Promise<void> {
    let missing = topics.filter((topic) => !this.#knownTopics.has(topic));
    if (missing.length === 0) return;
    await this.#listTopics();
    missing = missing.filter((topic) => !this.#knownTopics.has(topic));
    if (missing.length === 0) return;
    const { partitions, replicationFactor, maxMessageBytes } = this.#options;
    try {
      await this.#admin!.createTopics({
        // kafkajs waits for leaders but gives up on the UNKNOWN_TOPIC_OR_PARTITION a KRaft broker answers
        // for a moment after creating a topic; the wait below tolerates it.
        waitForLeaders: false,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: partitions,
          ...(replicationFactor === undefined ? {} : { replicationFactor }),
          configEntries: [
            { name: 'max.message.bytes', value: String(maxMessageBytes + TOPIC_HEADROOM_BYTES) },
          ],
        })),
      });
      await this.#waitForLeaders(missing);
    } catch (error) {
      throw toTransportError(error, `creating topics ${missing.join(', ')}`);
    }
    // Topics another process created meanwhile are reported as existing, not as errors.
    for (const topic of missing) this.#knownTopics.add(topic);
  }

  /** Waits until every partition of the new topics has a leader, so the first publish finds them. */
  async #waitForLeaders(topics: readonly string[]): Promise<void> {
    const deadline = Date.now() + TOPIC_CREATION_TIMEOUT_MS;
    for (;;) {
      try {
        const metadata = await this.#admin!.fetchTopicMetadata({ topics: [...topics] });
        const ready = metadata.topics.every(
          (topic) => topic.partitions.length > 0 && topic.partitions.every((p) => p.leader >= 0),
        );
        if (ready) return;
        if (Date.now() > deadline)
          throw new TransportError('topic leaders not elected in time', { code: 'TIMEOUT' });
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      await sleep(50);
    }
  }

  async #assertTopicExists(topic: string, what: string): Promise<void> {
    await this.#listTopics();
    if (!this.#knownTopics.has(topic)) {
      throw new TransportError(`${what} is not provisioned (no topic ${topic})`, {
        code: 'NOT_PROVISIONED',
        retriable: false,
      });
    }
  }

  /** One metadata request for every caller waiting at the same time. */
  #listTopics(): Promise<void> {
    this.#listingTopics ??= this.#admin!.listTopics()
      .then(
        (topics) => {
          for (const topic of topics) this.#knownTopics.add(topic);
        },
        (error: unknown) => {
          throw toTransportError(error, 'listing topics');
        },
      )
      .finally(() => (this.#listingTopics = undefined));
    return this.#listingTopics;
  }

  /**
   * A new subscription starts where it is provisioned, like a queue bound to an exchange: a group with
   * no committed offsets and no members gets the current end of the channel committed. Committing even
   * on a new, empty topic leaves a mark, so a later provisioning (by another instance, after messages
   * were published) does not move the group past them.
   */
  async #startGroupAtEnd(groupId: string, topic: string): Promise<void> {
    if (this.#initialisedGroups.has(groupId)) return;
    const admin = this.#admin!;
    // Right after a topic is created its leader may still refuse requests for a moment: retried.
    const attempt = async (): Promise<void> => {
      const [current] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const positioned = (current?.partitions ?? []).some((p) => Number(p.offset) >= 0);
      const { groups } = await admin.describeGroups([groupId]);
      const running = groups.some((g) => g.members.length > 0);
      if (!positioned && !running) {
        const ends = await admin.fetchTopicOffsets(topic);
        await commitAsNewMember(
          this.#kafka,
          this.#options,
          groupId,
          topic,
          ends.map(({ partition, high }) => ({ partition, offset: high })),
        );
      }
    };
    try {
      await retry(attempt, {
        attempts: 10,
        backoff: exponential({ initialMs: 50, maxMs: 1_000 }),
        retriable: (error) => toTransportError(error, 'positioning').retriable,
      });
    } catch (error) {
      throw toTransportError(error, `positioning consumer group ${groupId} at the end of ${topic}`);
    }
    this.#initialisedGroups.add(groupId);
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError();
  }
}

function closedError(): TransportError {
  return new TransportError('kafka transport is closed', { code: 'TRANSPORT_CLOSED', retriable: false });
}
