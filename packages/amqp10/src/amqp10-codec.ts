import type { Message } from 'rhea';
import rhea from 'rhea';
import type { Envelope, SigningKeys } from '@omnibus/core';
import { Header } from '@omnibus/core';
import {
  ATTEMPT_SEAL_HEADER,
  type BindingStyle,
  attemptSealValid,
  fromBindingHeaders,
  fromStructuredCloudEvent,
  toBindingHeaders,
} from '@omnibus/core/transport';

/**
 * The CloudEvents AMQP binding (binary mode): attributes as `cloudEvents:<attr>` application properties,
 * `datacontenttype` as the AMQP `content-type` property; `cloudEvents_` accepted when reading (the spelling
 * of JMS-style clients and of our AMQP 0-9-1 driver).
 */
export const AMQP10_BINDING: BindingStyle = { prefix: 'cloudEvents:', alsoRead: ['cloudEvents_'] };

/** The envelope's key, as the CloudEvents Partitioning extension attribute. */
const KEY_ATTRIBUTE = 'partitionkey';
/** The delivery number of a retried copy (absent on the first publish). */
export const ATTEMPT_PROPERTY = 'omnibus-attempt';
/** Artemis's scheduled delivery: the copy becomes visible at this time (ms since the epoch). */
export const DELIVERY_TIME_ANNOTATION = 'x-opt-delivery-time';
const STRUCTURED = 'application/cloudevents+json';
const DATA_SECTION = 0x75;

/**
 * Envelope → AMQP 1.0 message: durable, `message-id` = id, `content-type` = `datacontenttype`, the key as
 * `group-id` (Artemis message groups: one consumer at a time per key) and `cloudEvents:partitionkey`, the
 * body as one data section, the attempt when above 1, and a delivery time when `deliverAt` is given.
 */
export function encodeEnvelope(
  envelope: Envelope,
  attempt = 1,
  deliverAt?: number,
  attemptSeal?: string,
): Message {
  const properties: Record<string, string | number> = toBindingHeaders(envelope, AMQP10_BINDING);
  const contentType = envelope.headers[Header.contentType];
  if (contentType !== undefined) delete properties[`${AMQP10_BINDING.prefix}${Header.contentType}`];
  if (envelope.key !== undefined) properties[`${AMQP10_BINDING.prefix}${KEY_ATTRIBUTE}`] = envelope.key;
  if (attempt > 1) properties[ATTEMPT_PROPERTY] = attempt;
  if (attemptSeal !== undefined) properties[ATTEMPT_SEAL_HEADER] = attemptSeal;
  const body = envelope.body;
  const message: Message = {
    // An empty id (a foreign message being dead-lettered) is left out, not sent as an empty message-id.
    message_id: envelope.id === '' ? undefined : envelope.id,
    durable: true,
    application_properties: properties,
    body: rhea.message.data_section(
      Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    ) as unknown,
  };
  if (contentType !== undefined) message.content_type = contentType;
  if (envelope.key !== undefined) message.group_id = envelope.key;
  if (deliverAt !== undefined) {
    message.message_annotations = { [DELIVERY_TIME_ANNOTATION]: rhea.types.wrap_long(deliverAt) };
  }
  return message;
}

export interface DecodedMessage {
  readonly envelope: Envelope;
  /** Our attempt property plus the broker's count of earlier failed deliveries (crashes, releases). */
  readonly attempt: number;
  /** The broker's count of earlier deliveries of this copy that ended without a settlement. */
  readonly failedDeliveries: number;
}

/** What decides whether the message's `omnibus-attempt` is ours (see `decodeMessage`). */
export interface AttemptTrust {
  /** The source consumed, as `describeSource` names it (the seal binds the count to it). */
  readonly queue: string;
  /** The transport's `signing` keys: with them only a sealed attempt count is believed. */
  readonly keys: SigningKeys | undefined;
}

/**
 * AMQP 1.0 message → envelope. Never throws: whatever a foreign client sent becomes an envelope, with `id`
 * and `type` empty when absent (the bus dead-letters those with the reason). Application properties of
 * any AMQP type become strings; `message-id` and `subject` stand in for missing attributes; a
 * structured-mode CloudEvent (`application/cloudevents+json`) is unpacked; an `amqp-value` body is taken
 * as text (a string) or JSON (other values).
 */
export function decodeMessage(message: Message, trust?: AttemptTrust): DecodedMessage {
  const raw = Object.create(null) as Record<string, string>;
  let attempt = 1;
  let seal: string | undefined;
  const table = (message.application_properties ?? {}) as Record<string, unknown>;
  // Own keys only: application properties from the wire may carry `__proto__`.
  for (const name of Object.keys(table)) {
    const value = table[name];
    if (name === ATTEMPT_PROPERTY) {
      attempt = countOr(value, 1, 1);
      continue;
    }
    if (name === ATTEMPT_SEAL_HEADER) {
      seal = propertyText(value);
      continue;
    }
    const text = propertyText(value);
    if (text !== undefined) raw[name] = text;
  }
  const decoded = fromBindingHeaders(raw, AMQP10_BINDING);
  let headers = decoded.headers;
  let key = headers[KEY_ATTRIBUTE];
  if (key !== undefined) delete headers[KEY_ATTRIBUTE];
  key ??= propertyText(message.group_id);
  const contentType = propertyText(message.content_type);
  let id = decoded.id ?? propertyText(message.message_id) ?? '';
  let type = decoded.type ?? propertyText(message.subject) ?? '';
  let body: Uint8Array = bodyBytes(message.body);
  if (contentType?.toLowerCase().startsWith(STRUCTURED) === true) {
    const structured = fromStructuredCloudEvent(body);
    if (structured !== undefined) {
      ({ id, type, body } = structured);
      headers = { ...headers, ...structured.headers };
    }
  } else if (contentType !== undefined && headers[Header.contentType] === undefined) {
    headers[Header.contentType] = contentType;
  }
  const envelope: Envelope =
    key === undefined ? { id, type, headers, body } : { id, type, key, headers, body };
  const keys = trust?.keys;
  if (attempt > 1 && keys !== undefined && !attemptSealValid(id, trust!.queue, attempt, seal, keys))
    attempt = 1;
  const failed = typeof message.delivery_count === 'number' ? message.delivery_count : 0;
  return { envelope, attempt: attempt + failed, failedDeliveries: failed };
}

/** The bytes of a body: data sections as they are, an `amqp-value` string as UTF-8, other values as JSON. */
function bodyBytes(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  const section = body as { typecode?: unknown; content?: unknown; multiple?: unknown };
  if (section.typecode === DATA_SECTION) {
    const content = section.content;
    if (section.multiple === true && Array.isArray(content)) return Buffer.concat(content.map(toBuffer));
    return toBuffer(content);
  }
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  try {
    return Buffer.from(JSON.stringify(body) ?? '', 'utf8');
  } catch {
    return Buffer.alloc(0);
  }
}

function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return Buffer.alloc(0);
}

function countOr(value: unknown, fallback: number, min: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isSafeInteger(n) && n >= min ? n : fallback;
}

/** Any AMQP value as text: strings as they are (empty as absent), numbers, booleans, bytes, timestamps. */
function propertyText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value.length === 0 ? undefined : value;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value);
    case 'object':
      if (value === null) return undefined;
      if (Buffer.isBuffer(value)) return value.toString('utf8');
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
      try {
        return JSON.stringify(value);
      } catch {
        return undefined;
      }
    default:
      return undefined;
  }
}
