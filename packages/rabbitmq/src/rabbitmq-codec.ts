import type { Message } from 'amqplib';
import type { Envelope, SigningKeys } from '@omnibus/core';
import { Header } from '@omnibus/core';
import {
  ATTEMPT_SEAL_HEADER,
  type BindingStyle,
  attemptSealValid,
  fromStructuredCloudEvent,
  isCloudEventsAttributeName,
} from '@omnibus/core/transport';
import type { PublishOptions } from './amqplib-publish.js';

/**
 * The CloudEvents AMQP binding, binary mode: attributes as `cloudEvents_<attr>` application properties
 * (headers); `cloudEvents:<attr>` accepted when reading (the AMQP 1.0 spelling); `datacontenttype` as the
 * AMQP `content-type` property.
 */
export const AMQP_BINDING: BindingStyle = { prefix: 'cloudEvents_', alsoRead: ['cloudEvents:'] };

/** The envelope's key, as the CloudEvents Partitioning extension attribute `partitionkey`. */
const KEY_ATTRIBUTE = 'partitionkey';
/** The delivery number of a retried copy (1 on the first publish, so absent then). */
export const ATTEMPT_HEADER = 'omnibus-attempt';
const ID_KEY = `${AMQP_BINDING.prefix}id`;
const TYPE_KEY = `${AMQP_BINDING.prefix}type`;
const KEY_KEY = `${AMQP_BINDING.prefix}${KEY_ATTRIBUTE}`;
/** The CloudEvents structured-mode content type: the whole event is the body. */
const STRUCTURED = 'application/cloudevents+json';

/** Headers the broker adds; they describe one delivery, not the message, and are not copied on. */
const BROKER_HEADERS = new Set([
  'x-death',
  'x-delivery-count',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
]);

export interface EncodedMessage {
  readonly content: Buffer;
  readonly options: PublishOptions;
}

/**
 * Envelope → AMQP message: persistent, `mandatory` (an unroutable message comes back instead of being
 * dropped), `message-id` = id, `content-type` = `datacontenttype`, CloudEvents headers, the key as
 * `cloudEvents_partitionkey`, and the attempt number when above 1.
 *
 * The headers are what core's `toBindingHeaders` writes for this binding, built in one pass: every key
 * is a string made once (see {@link wireKey}), `datacontenttype` is skipped rather than written and
 * deleted, and an absent attribute costs nothing. amqplib encodes the table again for every message;
 * docs/rabbitmq.md has what that costs.
 */
export function encodeEnvelope(envelope: Envelope, attempt = 1, attemptSeal?: string): EncodedMessage {
  // Null prototype: a header named `__proto__` is a header like any other, and nothing inherited is sent.
  const headers: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  // An empty id or type (a foreign message being dead-lettered) is left out: CloudEvents forbids empty ones.
  if (envelope.id !== '') headers[ID_KEY] = envelope.id;
  if (envelope.type !== '') headers[TYPE_KEY] = envelope.type;
  const source = envelope.headers;
  for (const name of Object.keys(source)) {
    if (name !== Header.contentType) headers[wireKey(name)] = source[name];
  }
  if (envelope.key !== undefined) headers[KEY_KEY] = envelope.key;
  if (attempt > 1) headers[ATTEMPT_HEADER] = attempt;
  if (attemptSeal !== undefined) headers[ATTEMPT_SEAL_HEADER] = attemptSeal;
  const body = envelope.body;
  return {
    content: Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    // One literal shape for every message; amqplib leaves an undefined content type out.
    // An empty id (a foreign message being dead-lettered) is left out, not sent as an empty message-id.
    options: {
      persistent: true,
      mandatory: true,
      messageId: envelope.id === '' ? undefined : envelope.id,
      contentType: source[Header.contentType],
      headers,
    },
  };
}

/** At most this many header names keep their wire key; the rest are computed per message. */
const WIRE_KEYS_KEPT = 256;
const wireKeys = new Map<string, string>();

/**
 * The AMQP header key of an envelope header: `cloudEvents_<name>` for a CloudEvents attribute, the name
 * itself otherwise. Made once per name, so that a key is one string every message instead of a fresh
 * concatenation. Bounded, since a dead-lettered foreign message may carry any names.
 */
function wireKey(name: string): string {
  let key = wireKeys.get(name);
  if (key === undefined) {
    key = isCloudEventsAttributeName(name) ? AMQP_BINDING.prefix + name : name;
    if (wireKeys.size < WIRE_KEYS_KEPT) wireKeys.set(name, key);
  }
  return key;
}

/** Why the broker itself dead-lettered a message (delivery limit, rejection), from its `x-death` header. */
export interface BrokerDeath {
  readonly reason: string;
  readonly queue: string;
}

export interface DecodedMessage {
  readonly envelope: Envelope;
  /** Our attempt header plus the quorum queue's count of earlier failed deliveries (crashes, requeues). */
  readonly attempt: number;
  readonly death: BrokerDeath | undefined;
}

/** What decides whether the message's `omnibus-attempt` is ours (see `decodeMessage`). */
export interface AttemptTrust {
  /** The work queue the message was consumed from. */
  readonly queue: string;
  /** The transport's `signing` keys: with them only a sealed attempt count is believed. */
  readonly keys: SigningKeys | undefined;
  /** Without keys, the attempt count is believed on a delivery through this exchange (our retry route). */
  readonly retryExchange: string;
}

/**
 * AMQP message → envelope. Never throws: whatever a foreign client sent becomes an envelope, with `id`
 * and `type` empty when absent (the bus dead-letters those with the reason). Header values of any AMQP
 * type are turned into strings; `message-id` and `type` properties stand in for missing attributes. A
 * structured-mode CloudEvent (`content-type: application/cloudevents+json`) is unpacked.
 *
 * The attempt is what a producer cannot forge: `x-delivery-count` only on a redelivery (the broker's
 * `redelivered` flag; a first delivery carries whatever the producer wrote), and our `omnibus-attempt`
 * only from our own retry route: with `trust.keys`, when its seal verifies; without, when the broker says
 * the message came through `trust.retryExchange` (never the default exchange or a channel's, which any
 * producer uses; `x-death` is no proof: RabbitMQ 3.x passes on one a producer wrote).
 */
export function decodeMessage(message: Message, trust?: AttemptTrust): DecodedMessage {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  let id: string | undefined;
  let type: string | undefined;
  let claimed = 1;
  let seal: string | undefined;
  let failedDeliveries = 0;
  let death: BrokerDeath | undefined;
  const table = (message.properties.headers ?? {}) as Record<string, unknown>;
  // Own keys only: a field table from the wire may carry `__proto__`, and nothing inherited is a header.
  for (const name of Object.keys(table)) {
    const value = table[name];
    if (name === ATTEMPT_HEADER) {
      claimed = countOr(value, 1, 1);
    } else if (name === ATTEMPT_SEAL_HEADER) {
      seal = headerText(value);
    } else if (name === 'x-delivery-count') {
      if (message.fields.redelivered) failedDeliveries = countOr(value, 0, 0);
    } else if (name === 'x-death') {
      death = latestDeath(value);
    } else if (!BROKER_HEADERS.has(name)) {
      const text = headerText(value);
      if (text === undefined) continue;
      const read = readKey(name);
      if (read === ID) id = text;
      else if (read === TYPE) type = text;
      else headers[read] = text;
    }
  }
  const contentType = propertyText(message.properties.contentType);
  if (contentType?.toLowerCase().startsWith(STRUCTURED) === true) {
    // Structured mode (the AMQP binding's other mode): the event is the body. A body that is not an event
    // falls through to binary mode below, so it is dead-lettered with the attributes it came with.
    const event = fromStructuredCloudEvent(message.content);
    if (event !== undefined) {
      const key = event.headers[KEY_ATTRIBUTE];
      delete event.headers[KEY_ATTRIBUTE];
      const envelope: Envelope = key === undefined ? event : { ...event, key };
      const attempt = trustedAttempt(message, envelope.id, claimed, seal, trust);
      return { envelope, attempt: attempt + failedDeliveries, death };
    }
  }
  const key = headers[KEY_ATTRIBUTE];
  if (key !== undefined) delete headers[KEY_ATTRIBUTE];
  if (contentType !== undefined && headers[Header.contentType] === undefined) {
    headers[Header.contentType] = contentType;
  }
  id ??= propertyText(message.properties.messageId) ?? '';
  type ??= propertyText(message.properties.type) ?? '';
  const envelope: Envelope =
    key === undefined
      ? { id, type, headers, body: message.content }
      : { id, type, key, headers, body: message.content };
  const attempt = trustedAttempt(message, id, claimed, seal, trust);
  return { envelope, attempt: attempt + failedDeliveries, death };
}

function trustedAttempt(
  message: Message,
  id: string,
  claimed: number,
  seal: string | undefined,
  trust: AttemptTrust | undefined,
): number {
  if (claimed === 1 || trust === undefined) return claimed;
  if (trust.keys !== undefined)
    return attemptSealValid(id, trust.queue, claimed, seal, trust.keys) ? claimed : 1;
  return message.fields.exchange === trust.retryExchange ? claimed : 1;
}

const ID = Symbol('id');
const TYPE = Symbol('type');
const READ_PREFIXES = [AMQP_BINDING.prefix, ...(AMQP_BINDING.alsoRead ?? [])];
const readKeys = new Map<string, string | typeof ID | typeof TYPE>();

/**
 * What a header read from the wire is, as core's `fromBindingHeaders` decides it: the envelope's id or
 * type, the attribute of a `cloudEvents_`/`cloudEvents:` header, or the header under its own name. Kept
 * per name (bounded like {@link wireKey}), so that a known header costs one lookup, not a prefix scan, a
 * slice and a pattern test.
 */
function readKey(name: string): string | typeof ID | typeof TYPE {
  let read = readKeys.get(name);
  if (read === undefined) {
    const prefix = READ_PREFIXES.find((p) => name.startsWith(p));
    const attribute = prefix === undefined ? undefined : name.slice(prefix.length);
    read =
      attribute === undefined || !isCloudEventsAttributeName(attribute)
        ? name
        : attribute === 'id'
          ? ID
          : attribute === 'type'
            ? TYPE
            : attribute;
    if (readKeys.size < WIRE_KEYS_KEPT) readKeys.set(name, read);
  }
  return read;
}

function countOr(value: unknown, fallback: number, min: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isSafeInteger(n) && n >= min ? n : fallback;
}

function propertyText(value: unknown): string | undefined {
  if (typeof value === 'string') return value.length === 0 ? undefined : value;
  return headerText(value);
}

/** x-death lists the most recent death first. */
function latestDeath(value: unknown): BrokerDeath | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const first = value[0] as Record<string, unknown> | null;
  if (first === null || typeof first !== 'object') return undefined;
  const reason = headerText(first.reason);
  const queue = headerText(first.queue);
  return reason === undefined ? undefined : { reason, queue: queue ?? '' };
}

/** Any AMQP field value as text: strings as they are, numbers, booleans, bytes (UTF-8), timestamps (ISO). */
export function headerText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value);
    case 'object': {
      if (value === null) return undefined;
      if (Buffer.isBuffer(value)) return value.toString('utf8');
      const tagged = value as { '!'?: unknown; value?: unknown };
      if (tagged['!'] === 'timestamp' && typeof tagged.value === 'number') {
        const date = new Date(tagged.value * 1000);
        return Number.isNaN(date.getTime()) ? String(tagged.value) : date.toISOString();
      }
      if (tagged['!'] === 'decimal') {
        const decimal = tagged.value as { places?: unknown; digits?: unknown } | undefined;
        if (typeof decimal?.places === 'number' && typeof decimal.digits === 'number') {
          return (decimal.digits / 10 ** decimal.places).toString();
        }
      }
      try {
        return JSON.stringify(value);
      } catch {
        return undefined;
      }
    }
    default:
      return undefined;
  }
}
