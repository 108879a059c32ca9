import type { Destination, Envelope, Source, Transport } from '@omnibus/core';
import { ConfigurationError, toOmnibusError } from '@omnibus/core';
import {
  DONE,
  TransportClosedError,
  checkMessageSizes,
  type Capabilities,
  type Consumer,
  type ConsumeOptions,
  type DeliverySink,
  type HealthReport,
  type Topology,
  type ReplyAddress,
  type ReplySink,
  type ReplyTransport,
} from '@omnibus/core/transport';
import { RabbitMqConnection } from './rabbitmq-connection.js';
import { encodeEnvelope } from './rabbitmq-codec.js';
import type { Outgoing } from './confirm-publisher.js';
import { ConfirmPublisher } from './confirm-publisher.js';
import type { RabbitMqTransportOptions, ResolvedRabbitMqOptions } from './rabbitmq-options.js';
import { redact, resolveRabbitMqOptions } from './rabbitmq-options.js';
import { RabbitMqConsumer } from './rabbitmq-consumer.js';
import { RabbitMqProvisioner } from './rabbitmq-provisioner.js';
import { RabbitMqNames } from './rabbitmq-names.js';
import { RabbitMqReplies } from './rabbitmq-replies.js';

/**
 * The RabbitMQ transport (AMQP 0-9-1 over amqplib). Channels are topic exchanges; subscriber groups and
 * command queues are durable quorum queues; events are routed by type. Publishing waits for publisher
 * confirms; consuming uses manual acks with `prefetch = concurrency`; delayed retries go through TTL retry
 * queues; dead letters go to `<queue>.dlq`. The connection heals itself: it reconnects with backoff,
 * declares the topology again and re-attaches the consumers; meanwhile `publish` rejects with a retriable
 * `TransportError` (`NOT_CONNECTED`), and a publish caught by the drop rejects (`NOT_CONFIRMED`): nothing
 * unconfirmed is reported as sent. See docs/rabbitmq.md.
 */
export class RabbitMqTransport implements Transport, ReplyTransport {
  readonly name = 'rabbitmq';
  readonly capabilities: Capabilities;
  readonly #options: ResolvedRabbitMqOptions;
  readonly #names: RabbitMqNames;
  readonly #connection: RabbitMqConnection;
  readonly #topology: RabbitMqProvisioner;
  readonly #publisher: ConfirmPublisher;
  readonly #consumers = new Set<RabbitMqConsumer>();
  readonly #replies: RabbitMqReplies;
  #closed: Promise<void> | undefined;

  /**
   * Validates `options` (a `ConfigurationError` names the bad field). Connects on `connect()`, or on the
   * first `provision`, `publish` or `consume`.
   */
  constructor(options: RabbitMqTransportOptions = {}) {
    this.#options = resolveRabbitMqOptions(options);
    const logger = this.#options.logger;
    this.#names = new RabbitMqNames(this.#options.namePrefix);
    this.#connection = new RabbitMqConnection(this.#options);
    this.#topology = new RabbitMqProvisioner(
      this.#connection,
      this.#names,
      this.#options.deliveryLimit,
      logger,
    );
    this.#publisher = new ConfirmPublisher(this.#connection, logger);
    this.#replies = new RabbitMqReplies(this.#connection, this.#publisher, this.#options.namePrefix, logger);
    this.#connection.onRecovery((model) => this.#topology.redeclare(model));
    this.#connection.onRecovery(async (model) => {
      this.#publisher.reset();
      // Not awaited: a consumer first waits for its old in-flight handlers, which must not hold up
      // publishing on the recovered connection.
      for (const consumer of this.#consumers) void consumer.reattach(model);
    });
    this.capabilities = {
      persistent: true,
      consumerGroups: true,
      ordering: 'key',
      delayedRetry: true,
      nativeDeadLetter: true,
      maxMessageBytes: this.#options.maxMessageBytes,
      restartable: true,
    };
  }

  async connect(signal?: AbortSignal): Promise<void> {
    await this.#connection.open(signal);
  }

  async provision(topology: Topology): Promise<void> {
    this.#assertOpen();
    await this.#connectOnFirstUse();
    await this.#topology.provision(topology);
  }

  publish(destination: Destination, messages: readonly Envelope[]): Promise<void> {
    // Not `async`: an open channel and a known destination reach the socket without a promise hop.
    try {
      this.#assertOpen();
      if (messages.length === 0) return DONE;
      checkMessageSizes(messages, this.capabilities.maxMessageBytes);
      if (this.#neverConnected()) {
        return this.#connection.open().then(() => this.publish(destination, messages));
      }
      const exists = this.#topology.ensureDestination(destination);
      if (exists !== undefined) return exists.then(() => this.#publish(destination, messages));
      return this.#publish(destination, messages);
    } catch (error) {
      return Promise.reject(toOmnibusError(error));
    }
  }

  #publish(destination: Destination, messages: readonly Envelope[]): Promise<void> {
    const outgoing: Outgoing[] = new Array<Outgoing>(messages.length);
    if (destination.kind === 'channel') {
      const exchange = this.#names.exchange(destination.channel);
      for (let i = 0; i < messages.length; i++) {
        const envelope = messages[i]!;
        outgoing[i] = { exchange, routingKey: envelope.type, message: encodeEnvelope(envelope) };
      }
    } else {
      const queue = this.#names.queue(destination);
      for (let i = 0; i < messages.length; i++) {
        outgoing[i] = { exchange: '', routingKey: queue, message: encodeEnvelope(messages[i]!) };
      }
    }
    return this.#publisher.publish(outgoing);
  }

  async consume(source: Source, sink: DeliverySink, options: ConsumeOptions): Promise<Consumer> {
    this.#assertOpen();
    const concurrency = options?.concurrency;
    // RabbitMQ's prefetch count is a 16-bit number.
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 65_535) {
      throw new ConfigurationError(
        'concurrency',
        `must be an integer from 1 to 65535, got ${String(concurrency)}`,
      );
    }
    await this.#connectOnFirstUse();
    const consumer = new RabbitMqConsumer({
      source,
      queue: this.#names.queue(source),
      sink,
      concurrency,
      context: {
        connection: this.#connection,
        publisher: this.#publisher,
        topology: this.#topology,
        logger: this.#options.logger,
        signing: this.#options.signing,
      },
      onClosed: (closed) => this.#consumers.delete(closed),
    });
    await consumer.start();
    this.#consumers.add(consumer);
    return consumer;
  }

  /** An exclusive auto-delete queue of this connection (see `RabbitMqReplies`). */
  async openReplies(sink: ReplySink): Promise<ReplyAddress> {
    this.#assertOpen();
    await this.#connectOnFirstUse();
    return this.#replies.open(sink);
  }

  publishReply(address: string, reply: Envelope): Promise<void> {
    try {
      this.#assertOpen();
      checkMessageSizes([reply], this.capabilities.maxMessageBytes);
      return this.#replies.publish(address, reply);
    } catch (error) {
      return Promise.reject(toOmnibusError(error));
    }
  }

  /**
   * `up` when connected and every consumer is attached; `degraded` when the broker blocks publishers (a
   * resource alarm) or a consumer is detached; `down` while connecting, reconnecting, or after close.
   */
  async health(): Promise<HealthReport> {
    const connection = this.#connection;
    const detached = [...this.#consumers].filter((consumer) => consumer.state === 'detached');
    const details = {
      url: redact(this.#options.url.href),
      vhost: this.#options.vhost,
      connection: connection.state,
      recoveries: connection.recoveries,
      consumers: this.#consumers.size,
      ...(detached.length === 0 ? {} : { detachedConsumers: detached.map((consumer) => consumer.queue) }),
      ...(connection.blocked === undefined ? {} : { blocked: connection.blocked }),
      ...(connection.lastError === undefined ? {} : { lastError: connection.lastError }),
    };
    if (this.#closed !== undefined || connection.state !== 'open') return { status: 'down', details };
    if (connection.blocked !== undefined || detached.length > 0) return { status: 'degraded', details };
    return { status: 'up', details };
  }

  /** Closes every consumer (in-flight handlers finish; unsettled messages go back), then disconnects. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    await Promise.allSettled([...this.#consumers].map((consumer) => consumer.close()));
    await this.#publisher.close();
    await this.#connection.close();
  }

  /** Not yet connected, and not reconnecting either (that the connection does by itself). */
  #neverConnected(): boolean {
    const state = this.#connection.state;
    return state === 'idle' || state === 'connecting';
  }

  #connectOnFirstUse(): Promise<void> {
    return this.#neverConnected() ? this.#connection.open() : DONE;
  }

  #assertOpen(): void {
    if (this.#closed !== undefined) {
      throw new TransportClosedError('rabbitmq');
    }
  }
}
