import type { Context } from '@opentelemetry/api';
import type { Contract } from './contracts.js';
import { encodeValidated } from './contract-validation.js';
import type { Envelope } from './envelope.js';
import { CLOUDEVENTS_SPEC_VERSION, Header } from './envelope.js';
import { ConfigurationError, toOmnibusError } from './errors.js';
import type { MessageContext, PublishOptions } from './message-context.js';
import type { OutboxMessage } from './persistence.js';
import { ReplyHeader } from './request-reply/reply-headers.js';
import type { SerializerRegistry } from './serializer.js';
import { signEnvelope } from './signing/envelope-signature.js';
import type { SigningKeys } from './signing/signing-options.js';
import type { Sending, Telemetry } from './telemetry/telemetry.js';
import { destinationName, handlingContext } from './telemetry/telemetry.js';
import { writeSpanContext } from './telemetry/trace-context.js';
import type { Destination, Topology, Transport } from './transport.js';
import { uuidv7 } from './uuid.js';

const RESERVED_PREFIXES = [
  'ce_',
  'ce-',
  'cloudevents_',
  'cloudevents:',
  'omnibus-error-',
  'omnibus-reply-',
  'omnibus-in-reply-',
];

/**
 * The outgoing path of a bus: encode → envelope → destination → dispatch. `build` is the one code path,
 * with a synchronous early return: when the encoder is synchronous and the destination is known to
 * exist, no promise is made before the transport's.
 */
export class Outgoing {
  readonly #transport: Transport;
  readonly #serviceName: string;
  readonly #serializers: SerializerRegistry;
  readonly #provisioned = new Map<string, Promise<void>>();
  readonly #ready = new Set<string>();
  /** The same, by the destination object each contract keeps (see `destinationOf`): no string per publish. */
  readonly #readyDestinations = new WeakSet<Destination>();
  readonly #telemetry: Telemetry;
  /** When given, every envelope is signed as it is made, so the outbox holds it signed. */
  readonly #signing: SigningKeys | undefined;

  constructor(
    transport: Transport,
    serviceName: string,
    serializers: SerializerRegistry,
    telemetry: Telemetry,
    signing?: SigningKeys,
  ) {
    this.#transport = transport;
    this.#serviceName = serviceName;
    this.#serializers = serializers;
    this.#telemetry = telemetry;
    this.#signing = signing;
  }

  /** Records what the bus provisioned at start, so publishing there provisions nothing more. */
  provisioned(topology: Topology): void {
    for (const channel of topology.channels ?? []) this.#ready.add(`channel:${channel.name}`);
    for (const queue of topology.queues ?? []) this.#ready.add(`queue:${queue.name}`);
  }

  /**
   * Builds a message, inheriting correlation from `cause` when given: the message itself when nothing
   * needs waiting for, else a promise of it (an asynchronous encoder, a destination to provision).
   * Throws what encoding or the options refuse. `sending` is the send span of a message published now;
   * without it the message is sent later and gets a `create` span as its creation context.
   */
  build(
    contract: Contract,
    payload: unknown,
    options: PublishOptions | undefined,
    cause: MessageContext | undefined,
    sending?: Sending,
  ): OutboxMessage | Promise<OutboxMessage> {
    const serializer = this.#serializers.forContract(contract);
    const encoded = encodeValidated(serializer, contract, payload);
    const destination = destinationOf(contract);
    const provisioning = this.#ensureDestination(destination, contract.ordered);
    if (encoded instanceof Uint8Array && provisioning === undefined) {
      const envelope = this.#envelope(contract, payload, encoded, serializer.contentType, options, cause);
      this.#traced(destination, envelope, cause, sending);
      return { destination, envelope };
    }
    return (async () => {
      const body = encoded instanceof Uint8Array ? encoded : await encoded;
      const envelope = this.#envelope(contract, payload, body, serializer.contentType, options, cause);
      this.#traced(destination, envelope, cause, sending);
      if (provisioning !== undefined) await provisioning;
      return { destination, envelope };
    })();
  }

  /** `build` as a promise, for callers that collect messages (a handler, a transaction). */
  create(
    contract: Contract,
    payload: unknown,
    options: PublishOptions | undefined,
    cause: MessageContext | undefined,
  ): Promise<OutboxMessage> {
    try {
      const built = this.build(contract, payload, options, cause);
      return built instanceof Promise ? built : Promise.resolve(built);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : toOmnibusError(error));
    }
  }

  /**
   * A request's envelope, carrying the asking instance's reply address. Its queue is not provisioned: the
   * responder's bus does that, and where a broker refuses a message for a queue that is not there, the
   * request fails at once instead of waiting in a queue nobody reads.
   */
  async request(
    contract: Contract,
    payload: unknown,
    options: PublishOptions | undefined,
    cause: MessageContext | undefined,
    replyTo: string,
  ): Promise<Envelope> {
    const serializer = this.#serializers.forContract(contract);
    const encoded = encodeValidated(serializer, contract, payload);
    const body = encoded instanceof Uint8Array ? encoded : await encoded;
    const envelope = this.#envelope(contract, payload, body, serializer.contentType, options, cause);
    (envelope.headers as Record<string, string>)[ReplyHeader.replyTo] = replyTo;
    return envelope;
  }

  /**
   * Publishes a request made by `request`: a `send` span, child of `parent` (the request's span), whose
   * context the request carries to its handling; counted in `omnibus.requests.sent` once published.
   */
  sendRequest(
    destination: Destination,
    request: Envelope,
    cause: MessageContext | undefined,
    parent: Context,
  ): Promise<void> {
    const sending = this.#telemetry.sendNow(destination, parent);
    this.#traced(destination, request, cause, sending);
    const published = sending.settle(this.#transport.publish(destination, [request]));
    if (!this.#telemetry.metered) return published;
    return published.then(() =>
      this.#telemetry.requestsSent.add(
        1,
        this.#telemetry.metricAttributes(destinationName(destination), 'request'),
      ),
    );
  }

  /** Where this bus's spans and metrics go (its requester's too). */
  get telemetry(): Telemetry {
    return this.#telemetry;
  }

  /** Builds and publishes one message now: the hot path of `bus.publish`/`bus.send`. */
  publishNow(contract: Contract, payload: unknown, options: PublishOptions | undefined): Promise<void> {
    const sending = this.#telemetry.sendNow(destinationOf(contract));
    let built: OutboxMessage | Promise<OutboxMessage>;
    try {
      built = this.build(contract, payload, options, undefined, sending);
    } catch (error) {
      sending.end(error);
      return Promise.reject(error instanceof Error ? error : toOmnibusError(error));
    }
    if (built instanceof Promise) {
      return sending.settle(
        built.then((message) => this.#transport.publish(message.destination, [message.envelope])),
      );
    }
    return sending.settle(this.#transport.publish(built.destination, [built.envelope]));
  }

  /** Publishes messages now, grouped per destination, in order; `cause` is the handling they come from. */
  async dispatch(messages: readonly OutboxMessage[], cause?: MessageContext): Promise<void> {
    const parent = handlingContext(cause);
    let start = 0;
    while (start < messages.length) {
      const destination = messages[start]!.destination;
      let end = start + 1;
      while (end < messages.length && sameDestination(messages[end]!.destination, destination)) end++;
      const envelopes = messages.slice(start, end).map((message) => message.envelope);
      const sending = this.#telemetry.sendCreated(destination, envelopes, parent);
      await sending.settle(this.#transport.publish(destination, envelopes));
      start = end;
    }
  }

  /**
   * Writes the message's creation context: the send span's when published now, else a `create` span's
   * (child of the handling it comes from). A `traceparent` the caller set is kept, as the conventions
   * ask. With nothing recording, the cause's `traceparent` is passed on, so a trace survives a service
   * without an SDK.
   */
  #traced(
    destination: Destination,
    envelope: Envelope,
    cause: MessageContext | undefined,
    sending: Sending | undefined,
  ): void {
    sending?.describe(envelope);
    const headers = envelope.headers as Record<string, string>;
    if (headers[Header.traceParent] !== undefined) return;
    const creation =
      sending === undefined ? this.#telemetry.create(destination, envelope, cause) : sending.creationContext;
    if (creation !== undefined) return writeSpanContext(headers, creation);
    const carried = cause?.headers[Header.traceParent];
    if (carried === undefined) return;
    headers[Header.traceParent] = carried;
    const state = cause?.headers[Header.traceState];
    if (state !== undefined) headers[Header.traceState] = state;
  }

  /** Provisions a destination on first use; undefined once it is known to exist (the hot path). */
  #ensureDestination(destination: Destination, ordered: boolean): Promise<void> | undefined {
    if (this.#readyDestinations.has(destination)) return undefined;
    const key =
      destination.kind === 'channel' ? `channel:${destination.channel}` : `queue:${destination.queue}`;
    if (this.#ready.has(key)) {
      this.#readyDestinations.add(destination);
      return undefined;
    }
    let provisioned = this.#provisioned.get(key);
    if (provisioned === undefined) {
      provisioned = this.#transport
        .provision(
          destination.kind === 'channel'
            ? { channels: [{ name: destination.channel, ordered }] }
            : { queues: [{ name: destination.queue, ordered }] },
        )
        .then(() => void this.#ready.add(key));
      this.#provisioned.set(key, provisioned);
      provisioned.catch(() => this.#provisioned.delete(key));
    }
    return provisioned;
  }

  #envelope(
    contract: Contract,
    payload: unknown,
    body: Uint8Array,
    contentType: string,
    options: PublishOptions | undefined,
    cause: MessageContext | undefined,
  ): Envelope {
    const id = options?.id ?? uuidv7();
    const headers: Record<string, string> = {};
    if (options?.headers !== undefined) {
      for (const name in options.headers) {
        const lower = name.toLowerCase();
        if (RESERVED_PREFIXES.some((prefix) => lower.startsWith(prefix)) || lower === 'content-type') {
          throw new ConfigurationError(
            `headers.${name}`,
            'this header name is reserved for CloudEvents attributes and failure headers',
          );
        }
        headers[name] = options.headers[name]!;
      }
    }
    headers[Header.specVersion] = CLOUDEVENTS_SPEC_VERSION;
    headers[Header.source] = this.#serviceName;
    headers[Header.time] = isoNow();
    headers[Header.contentType] = contentType;
    headers[Header.correlationId] = cause?.correlationId ?? id;
    if (cause !== undefined) headers[Header.causationId] = cause.messageId;
    if (options?.subject !== undefined) headers[Header.subject] = options.subject;
    const key = options?.key ?? contract.key?.(payload);
    const envelope: Envelope =
      key === undefined
        ? { id, type: contract.type, headers, body }
        : { id, type: contract.type, key, headers, body };
    return this.#signing === undefined ? envelope : signEnvelope(envelope, this.#signing);
  }
}

const destinations = new WeakMap<Contract, Destination>();
/** The destination of a contract, made once per contract (it is on every publish). */
export function destinationOf(contract: Contract): Destination {
  let destination = destinations.get(contract);
  if (destination === undefined) {
    destination =
      contract.kind === 'event'
        ? { kind: 'channel', channel: contract.channel }
        : { kind: 'queue', queue: contract.queue };
    destinations.set(contract, destination);
  }
  return destination;
}

let lastMillis = 0;
let lastIso = '';
/** `new Date().toISOString()`, computed once per millisecond: it is on every publish. */
function isoNow(): string {
  const now = Date.now();
  if (now !== lastMillis) {
    lastMillis = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

function sameDestination(a: Destination, b: Destination): boolean {
  return a.kind === 'channel'
    ? b.kind === 'channel' && a.channel === b.channel
    : b.kind === 'queue' && a.queue === b.queue;
}
