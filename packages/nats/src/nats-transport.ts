import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { connect, credsAuthenticator, nkeyAuthenticator } from '@nats-io/transport-node';
import { setTimeout as delay } from 'node:timers/promises';
import type { Destination, Envelope, Source, Transport } from '@omnibus/core';
import { ConfigurationError, TransportError, toOmnibusError } from '@omnibus/core';
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
import type { EncodedMessage } from './nats-codec.js';
import { encodeEnvelope } from './nats-codec.js';
import { NatsConsumer } from './nats-consumer.js';
import { toTransportError } from './nats-errors.js';
import { NatsNames } from './nats-names.js';
import type { NatsTransportOptions, ResolvedNatsOptions } from './nats-options.js';
import { resolveNatsOptions } from './nats-options.js';
import { NatsProvisioner } from './nats-provisioner.js';
import { NatsReplies } from './nats-replies.js';

const CONNECT_RETRY_MS = 2_000;

interface Route {
  readonly subject: string;
  ready: boolean;
}

/**
 * The NATS JetStream transport. Channels are interest-retention streams (one durable pull consumer per
 * subscriber group); command queues are work-queue streams with one shared durable; dead letters live in
 * one work-queue stream. Publishing awaits JetStream's ack and sets `Nats-Msg-Id` to the envelope id, so
 * a second publish within the duplicate window is stored once. Consuming uses explicit acks; `retry` is a
 * delayed NAK. The client reconnects on its own (forever) and consumers pull again once it is back;
 * meanwhile a publish rejects with a retriable `TransportError` and nothing unacked is reported as sent.
 * See docs/nats.md.
 */
export class NatsTransport implements Transport, ReplyTransport {
  readonly name = 'nats';
  readonly capabilities: Capabilities;
  readonly #options: ResolvedNatsOptions;
  readonly #names: NatsNames;
  readonly #provisioner: NatsProvisioner;
  readonly #consumers = new Set<NatsConsumer>();
  readonly #routes = new Map<string, Route>();
  readonly #replies: NatsReplies;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #jsm: JetStreamManager | undefined;
  #reconnects = 0;
  #closed: Promise<void> | undefined;
  #connecting: Promise<void> | undefined;

  /**
   * Validates `options` (a `ConfigurationError` names the bad field). Connects on `connect()`, or on the
   * first `provision`, `publish` or `consume`.
   */
  constructor(options: NatsTransportOptions = {}) {
    this.#options = resolveNatsOptions(options);
    this.#names = new NatsNames(this.#options.namePrefix);
    this.#provisioner = new NatsProvisioner(() => this.#manager(), this.#names, this.#options);
    this.#replies = new NatsReplies(() => {
      this.#assertOpen();
      if (this.#nc === undefined) throw notConnected();
      return this.#nc;
    }, this.#options.logger);
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

  connect(signal?: AbortSignal): Promise<void> {
    try {
      this.#assertOpen();
    } catch (error) {
      return Promise.reject(toOmnibusError(error));
    }
    if (this.#nc !== undefined) return DONE;
    this.#connecting ??= this.#connect(signal).finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #connect(signal?: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        signal?.throwIfAborted();
        const nc = await connect(this.#connectionOptions());
        void this.#watch(nc);
        const jsm = await jetstreamManager(nc, { timeout: this.#options.publishTimeoutMs });
        const maxPayload = nc.info?.max_payload ?? 0;
        if (maxPayload > 0 && this.#options.maxMessageBytes > maxPayload) {
          await nc.close();
          throw new ConfigurationError(
            'maxMessageBytes',
            `${this.#options.maxMessageBytes} is over the server's max_payload of ${maxPayload}`,
          );
        }
        this.#nc = nc;
        this.#jsm = jsm;
        this.#js = jetstream(nc, { timeout: this.#options.publishTimeoutMs });
        return;
      } catch (error) {
        const failure = toTransportError(error, `connecting to ${this.#options.servers.join(', ')}`);
        if (!failure.retriable || attempt >= this.#options.connectAttempts || signal?.aborted) throw failure;
        this.#options.logger.warn({ attempt, error: failure.message }, 'nats connect failed; trying again');
        await delay(CONNECT_RETRY_MS, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  #connectionOptions(): NodeConnectionOptions {
    const o = this.#options;
    const auth = o.auth;
    const tls = o.tls === undefined ? undefined : o.tls === true ? {} : { ...o.tls };
    return {
      servers: [...o.servers],
      name: o.connectionName,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // Otherwise the client makes an Error (a stack capture) or two for every request, publishes included,
      // only to say where a failed one started; our errors say what we were doing.
      noAsyncTraces: true,
      ...(tls === undefined ? {} : { tls }),
      ...(auth === undefined
        ? {}
        : 'token' in auth
          ? { token: auth.token }
          : 'user' in auth
            ? { user: auth.user, pass: auth.pass }
            : 'nkeySeed' in auth
              ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(auth.nkeySeed)) }
              : { authenticator: credsAuthenticator(new TextEncoder().encode(auth.creds)) }),
    };
  }

  async #watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'reconnect') this.#reconnects++;
      if (status.type === 'disconnect' || status.type === 'reconnect' || status.type === 'error') {
        this.#options.logger.info({ status: status.type }, 'nats connection status');
      }
    }
  }

  async provision(topology: Topology): Promise<void> {
    this.#assertOpen();
    await this.connect();
    await this.#provisioner.provision(topology);
  }

  publish(destination: Destination, messages: readonly Envelope[]): Promise<void> {
    try {
      this.#assertOpen();
      if (messages.length === 0) return DONE;
      checkMessageSizes(messages, this.capabilities.maxMessageBytes);
      if (this.#nc === undefined) return this.connect().then(() => this.publish(destination, messages));
      const route = this.#route(destination);
      if (route.ready) return this.#publishAll(route.subject, messages);
      return this.#provisioner.ensureDestination(destination).then(() => {
        route.ready = true;
        return this.#publishAll(route.subject, messages);
      });
    } catch (error) {
      return Promise.reject(toOmnibusError(error));
    }
  }

  /** A destination's subject, and whether its stream is known to exist (then a publish goes straight out). */
  #route(destination: Destination): Route {
    const key = destination.kind === 'channel' ? `c:${destination.channel}` : `q:${destination.queue}`;
    let route = this.#routes.get(key);
    if (route === undefined) {
      route = { subject: this.#names.publishSubject(destination), ready: false };
      this.#routes.set(key, route);
    }
    return route;
  }

  #publishAll(subject: string, messages: readonly Envelope[]): Promise<void> {
    if (messages.length === 1) return this.#publishOne(subject, encodeEnvelope(messages[0]!));
    return Promise.all(messages.map((envelope) => this.#publishOne(subject, encodeEnvelope(envelope)))).then(
      () => undefined,
    );
  }

  /** One message, resolved on JetStream's ack (a duplicate within the window is acked as stored). */
  readonly #publishOne = async (subject: string, message: EncodedMessage): Promise<void> => {
    try {
      await this.#client().publish(subject, message.data, {
        msgID: message.msgId,
        headers: message.headers,
        timeout: this.#options.publishTimeoutMs,
      });
    } catch (error) {
      throw toTransportError(error, `publishing to ${subject}`);
    }
  };

  async consume(source: Source, sink: DeliverySink, options: ConsumeOptions): Promise<Consumer> {
    this.#assertOpen();
    const concurrency = options?.concurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > this.#options.maxAckPending) {
      throw new ConfigurationError(
        'concurrency',
        `must be an integer from 1 to maxAckPending (${this.#options.maxAckPending}), got ${String(concurrency)}`,
      );
    }
    await this.connect();
    await this.#provisioner.ensureSource(source);
    await this.#provisioner.ensureDeadLetters();
    const consumer = new NatsConsumer({
      source,
      sink,
      concurrency,
      context: {
        js: () => this.#client(),
        names: this.#names,
        deliveryLimit: this.#options.deliveryLimit,
        ackWaitMs: this.#options.ackWaitMs,
        publish: this.#publishOne,
        logger: this.#options.logger,
      },
      onClosed: (closed) => this.#consumers.delete(closed),
    });
    await consumer.start();
    this.#consumers.add(consumer);
    return consumer;
  }

  /** A core NATS inbox subscription of this instance (see `NatsReplies`). */
  async openReplies(sink: ReplySink): Promise<ReplyAddress> {
    this.#assertOpen();
    await this.connect();
    return this.#replies.open(sink);
  }

  publishReply(address: string, reply: Envelope): Promise<void> {
    try {
      this.#assertOpen();
      checkMessageSizes([reply], this.capabilities.maxMessageBytes);
    } catch (error) {
      return Promise.reject(toOmnibusError(error));
    }
    if (this.#nc === undefined) return this.connect().then(() => this.publishReply(address, reply));
    return this.#replies.publish(address, reply);
  }

  /** `up` when connected; `down` while connecting, reconnecting, or after close. */
  async health(): Promise<HealthReport> {
    const nc = this.#nc;
    const connected =
      nc !== undefined && !nc.isClosed() && nc.getServer() !== '' && this.#closed === undefined;
    const details = {
      servers: this.#options.servers,
      server: nc?.getServer(),
      reconnects: this.#reconnects,
      consumers: this.#consumers.size,
    };
    if (!connected) return { status: 'down', details };
    try {
      await nc.flush();
      return { status: 'up', details };
    } catch (error) {
      return { status: 'down', details: { ...details, error: toOmnibusError(error).message } };
    }
  }

  /** Closes every consumer (in-flight handlers finish; unsettled messages are NAKed), then disconnects. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    await Promise.allSettled([...this.#consumers].map((consumer) => consumer.close()));
    const nc = this.#nc;
    if (nc !== undefined && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }

  #client(): JetStreamClient {
    this.#assertOpen();
    if (this.#js === undefined) throw notConnected();
    return this.#js;
  }

  #manager(): JetStreamManager {
    this.#assertOpen();
    if (this.#jsm === undefined) throw notConnected();
    return this.#jsm;
  }

  #assertOpen(): void {
    if (this.#closed !== undefined) {
      throw new TransportClosedError('nats');
    }
  }
}

function notConnected(): TransportError {
  return new TransportError('nats transport is not connected', {
    code: 'NOT_CONNECTED',
    retriable: true,
  });
}
