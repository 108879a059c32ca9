import type { Envelope } from '@omnibus/core';
import { ConfigurationError, toOmnibusError } from '@omnibus/core';
import type {
  Capabilities,
  Consumer,
  ConsumeOptions,
  DeliverySink,
  Destination,
  HealthReport,
  Source,
  Transport,
  Topology,
} from '@omnibus/core/transport';
import type { ReplyAddress, ReplySink, ReplyTransport } from '@omnibus/core/transport';
import {
  TransportClosedError,
  checkMessageSizes,
  describeDestination,
  describeSource,
} from '@omnibus/core/transport';
import type { OutgoingRecord } from './kafka-codec.js';
import { toKafkaMessage } from './kafka-codec.js';
import { KafkaConsumer } from './kafka-consumer.js';
import { toTransportError } from './kafka-errors.js';
import { KafkaNames } from './kafka-names.js';
import type { KafkaTransportOptions, ResolvedKafkaOptions } from './kafka-options.js';
import { resolveKafkaOptions } from './kafka-options.js';
import { KafkaProvisioner } from './kafka-provisioner.js';
import { KafkaReplies } from './kafka-replies.js';
import type { TopicRecords } from './produce-queue.js';
import { ProduceQueue } from './produce-queue.js';
import type { KafkaClient } from './kafka-client.js';
import { KafkaJsClient } from './kafkajs-client.js';
import { PlatformaticClient } from './platformatic-client.js';

/**
 * Omnibus over Apache Kafka, on @platformatic/kafka or kafkajs (`client`). Channels and queues are topics (created by `provision`; brokers
 * usually run with auto-creation off); each subscription and each queue is a consumer group; retries go
 * through a retry topic per group and wait for their due time without blocking the partition; dead
 * letters go to a topic per group. The producer is idempotent with `acks: -1`: `publish` resolves once
 * every in-sync replica has the messages. See docs/kafka.md.
 */
export class KafkaTransport implements Transport, ReplyTransport {
  readonly name = 'kafka';
  readonly capabilities: Capabilities;
  readonly #options: ResolvedKafkaOptions;
  readonly #names: KafkaNames;
  readonly #client: KafkaClient;
  #connecting: Promise<void> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #provisioner: KafkaProvisioner;
  readonly #consumers = new Set<KafkaConsumer>();
  readonly #sends = new Set<Promise<unknown>>();
  readonly #produceQueue: ProduceQueue;
  readonly #replies: KafkaReplies;

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
    this.#client =
      this.#options.client === 'platformatic'
        ? new PlatformaticClient(this.#options)
        : new KafkaJsClient(this.#options);
    this.#provisioner = new KafkaProvisioner(this.#client, this.#options);
    this.#replies = new KafkaReplies({
      client: this.#client,
      provisioner: this.#provisioner,
      options: this.#options,
      send: (topic, records) => this.#send(topic, records),
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

  #connect(): Promise<void> {
    return this.#client.connect();
  }

  async provision(topology: Topology): Promise<void> {
    this.#assertOpen();
    await this.connect();
    await this.#provisioner.provision(this.#names, topology);
  }

  async publish(destination: Destination, messages: readonly Envelope[]): Promise<void> {
    this.#assertOpen();
    if (messages.length === 0) return;
    const topic =
      destination.kind === 'channel'
        ? this.#names.channelTopic(destination.channel)
        : this.#names.queueTopic(destination.queue);
    checkMessageSizes(messages, this.#options.maxMessageBytes);
    if (!this.#provisioner.knows(topic)) {
      await this.connect();
      await this.#provisioner.assertTopicExists(topic, describeDestination(destination));
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
    await this.#provisioner.assertTopicExists(topology.mainTopic, describeSource(source));
    // Sources provisioned by an older version or another tool may lack their retry and dead-letter topics.
    await this.#provisioner.createTopics([topology.retryTopic, topology.deadLetterTopic]);
    this.#assertOpen();
    const consumer = await KafkaConsumer.start({
      client: this.#client,
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

  /** A consumer group of this instance on the shared reply topic (see `KafkaReplies`). */
  async openReplies(sink: ReplySink): Promise<ReplyAddress> {
    this.#assertOpen();
    await this.connect();
    return this.#replies.open(sink);
  }

  async publishReply(address: string, reply: Envelope): Promise<void> {
    this.#assertOpen();
    checkMessageSizes([reply], this.#options.maxMessageBytes);
    await this.connect();
    await this.#replies.publish(address, reply);
  }

  async health(): Promise<HealthReport> {
    if (this.#closed) return { status: 'down', details: { reason: 'closed' } };
    try {
      await this.connect();
      const brokers = await this.#client.brokerCount();
      const crashed = [...this.#consumers].filter((consumer) => consumer.crash !== undefined);
      return {
        status: crashed.length > 0 ? 'degraded' : 'up',
        details: {
          client: this.#client.name,
          brokers,
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
    await this.#client.close();
  }

  /** Queues records for the idempotent producer; resolves once every in-sync replica has them. */
  async #send(topic: string, messages: readonly OutgoingRecord[]): Promise<void> {
    const sending = this.#produceQueue.enqueue(topic, messages);
    this.#sends.add(sending);
    try {
      await sending;
    } finally {
      this.#sends.delete(sending);
    }
  }

  /** One produce request per broker, `acks: -1`. */
  async #sendBatch(batch: TopicRecords[]): Promise<void> {
    if (this.#closed) throw new TransportClosedError(this.name);
    try {
      await this.#client.send(batch);
    } catch (error) {
      throw toTransportError(error, `publishing to ${batch.map((t) => t.topic).join(', ')}`);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new TransportClosedError(this.name);
  }
}
