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
import { encodeEnvelope } from './amqp10-codec.js';
import { Amqp10Connection } from './amqp10-connection.js';
import { Amqp10Consumer } from './amqp10-consumer.js';
import { Amqp10Names } from './amqp10-names.js';
import type { Amqp10TransportOptions, ResolvedAmqp10Options } from './amqp10-options.js';
import { redact, resolveAmqp10Options } from './amqp10-options.js';
import { Amqp10Provisioner } from './amqp10-provisioner.js';
import { Amqp10Publisher } from './amqp10-publisher.js';
import { Amqp10Replies } from './amqp10-replies.js';

/**
 * The AMQP 1.0 transport (rhea), tested on ActiveMQ Artemis. Channels are multicast addresses, each
 * subscriber group a durable queue on its channel's address, command queues anycast addresses; dead
 * letters go to `<queue>.dlq`. Messages are durable; `publish` resolves once the broker has accepted
 * every message; consumers use link credit as a bounded prefetch; delayed retries are scheduled copies
 * (`x-opt-delivery-time`). The connection heals itself (rhea reconnects and re-attaches the links);
 * meanwhile `publish` rejects with a retriable `TransportError` (`NOT_CONNECTED`), and a publish caught by
 * the drop rejects (`NOT_CONFIRMED`). See docs/activemq.md.
 */
export class Amqp10Transport implements Transport, ReplyTransport {
  readonly name = 'amqp10';
  readonly capabilities: Capabilities;
  readonly #options: ResolvedAmqp10Options;
  readonly #names: Amqp10Names;
  readonly #connection: Amqp10Connection;
  readonly #publisher: Amqp10Publisher;
  readonly #provisioner: Amqp10Provisioner;
  readonly #consumers = new Set<Amqp10Consumer>();
  readonly #replies: Amqp10Replies;
  #closed: Promise<void> | undefined;

  /**
   * Validates `options` (a `ConfigurationError` names the bad field). Connects on `connect()`, or on the
   * first `provision`, `publish` or `consume`.
   */
  constructor(options: Amqp10TransportOptions = {}) {
    this.#options = resolveAmqp10Options(options);
    this.#names = new Amqp10Names(this.#options.namePrefix);
    this.#connection = new Amqp10Connection(this.#options);
    this.#publisher = new Amqp10Publisher(this.#connection);
    this.#provisioner = new Amqp10Provisioner(this.#connection, this.#publisher, this.#names);
    this.#replies = new Amqp10Replies(this.#connection, this.#publisher, this.#options.logger);
    this.#connection.onLost(() => {
      for (const consumer of this.#consumers) consumer.connectionLost();
    });
    this.capabilities = {
      persistent: true,
      consumerGroups: true,
      ordering: 'key',
      delayedRetry: true,
      nativeDeadLetter: false,
      maxMessageBytes: this.#options.maxMessageBytes,
      restartable: true,
    };
  }

  async connect(signal?: AbortSignal): Promise<void> {
    if (this.#closed !== undefined) throw new TransportClosedError('amqp10');
    await this.#connection.open(signal);
  }

  async provision(topology: Topology): Promise<void> {
    this.#assertOpen();
    if (this.#connection.neverConnected) await this.#connection.open();
    await this.#provisioner.provision(topology);
  }

  publish(destination: Destination, messages: readonly Envelope[]): Promise<void> {
    try {
      this.#assertOpen();
      if (messages.length === 0) return DONE;
      checkMessageSizes(messages, this.capabilities.maxMessageBytes);
      if (this.#connection.neverConnected) {
        return this.#connection.open().then(() => this.publish(destination, messages));
      }
      const target =
        destination.kind === 'channel'
          ? this.#names.channel(destination.channel)
          : this.#names.queue(destination.queue);
      return this.#publisher.publish(
        target,
        messages.map((envelope) => encodeEnvelope(envelope)),
      );
    } catch (error) {
      return Promise.reject(toOmnibusError(error));
    }
  }

  async consume(source: Source, sink: DeliverySink, options: ConsumeOptions): Promise<Consumer> {
    this.#assertOpen();
    const concurrency = options?.concurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) {
      throw new ConfigurationError(
        'concurrency',
        `must be an integer from 1 to 10000, got ${String(concurrency)}`,
      );
    }
    if (this.#connection.neverConnected) await this.#connection.open();
    const consumer = new Amqp10Consumer({
      source,
      targets: { source: this.#names.source(source), deadLetters: this.#names.deadLetters(source) },
      sink,
      concurrency,
      context: {
        connection: this.#connection,
        publisher: this.#publisher,
        deliveryLimit: this.#options.deliveryLimit,
        logger: this.#options.logger,
        signing: this.#options.signing,
      },
      onClosed: (closed) => this.#consumers.delete(closed),
    });
    this.#consumers.add(consumer);
    try {
      await consumer.start();
    } catch (error) {
      this.#consumers.delete(consumer);
      throw error;
    }
    return consumer;
  }

  /** `up` when connected and every consumer's link is attached; `degraded` when one is not; else `down`. */
  /** A temporary queue of this connection (see `Amqp10Replies`). */
  async openReplies(sink: ReplySink): Promise<ReplyAddress> {
    this.#assertOpen();
    if (this.#connection.neverConnected) await this.#connection.open();
    return this.#replies.open(sink);
  }

  publishReply(address: string, reply: Envelope): Promise<void> {
    try {
      this.#assertOpen();
      checkMessageSizes([reply], this.capabilities.maxMessageBytes);
    } catch (error) {
      return Promise.reject(toOmnibusError(error));
    }
    if (this.#connection.neverConnected) {
      return this.#connection.open().then(() => this.publishReply(address, reply));
    }
    return this.#replies.publish(address, reply);
  }

  async health(): Promise<HealthReport> {
    const connection = this.#connection;
    const detached = [...this.#consumers].filter((consumer) => !consumer.attached);
    const details = {
      url: redact(this.#options.url.href),
      connection: connection.state,
      recoveries: connection.recoveries,
      consumers: this.#consumers.size,
      ...(detached.length === 0 ? {} : { detachedConsumers: detached.map((consumer) => consumer.address) }),
      ...(connection.lastError === undefined ? {} : { lastError: connection.lastError }),
    };
    if (this.#closed !== undefined || connection.state !== 'open') return { status: 'down', details };
    if (detached.length > 0) return { status: 'degraded', details };
    return { status: 'up', details };
  }

  /** Closes every consumer (in-flight handlers finish; unsettled messages go back), then disconnects. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    await Promise.allSettled([...this.#consumers].map((consumer) => consumer.close()));
    this.#publisher.close('amqp10 transport is closed');
    await this.#connection.close();
  }

  #assertOpen(): void {
    if (this.#closed !== undefined) throw new TransportClosedError('amqp10');
  }
}
