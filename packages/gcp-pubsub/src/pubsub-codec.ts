import type { Envelope } from '@omnibus/core';
import { Header, TransportError } from '@omnibus/core';
import {
  MessageTooLargeError,
  type BindingStyle,
  fromBindingHeaders,
  fromStructuredCloudEvent,
  toBindingHeaders,
} from '@omnibus/core/transport';

/** The CloudEvents Pub/Sub binding: attributes `ce-<name>`, the content type in `content-type`. */
export const PUBSUB_BINDING: BindingStyle = { prefix: 'ce-', contentTypeHeader: 'content-type' };

/**
 * The envelope key travels as the ordering key on ordered destinations. Elsewhere it is the CloudEvents
 * partitioning extension attribute (`partitionkey`), so it round-trips without the per-key publishing
 * limits an ordering key brings.
 */
const PARTITION_KEY = 'partitionkey';

/** Pub/Sub's limits on attributes (https://cloud.google.com/pubsub/quotas#resource_limits). */
export const ATTRIBUTE_LIMITS = { count: 100, keyBytes: 256, valueBytes: 1024, orderingKeyBytes: 1024 };

/** What `Topic.publishMessage` takes. */
export interface OutgoingMessage {
  readonly data: Buffer;
  readonly attributes: Record<string, string>;
  readonly orderingKey?: string;
}

/** What a subscriber receives, as far as decoding goes (a subset of the client's `Message`). */
export interface IncomingMessage {
  readonly data?: Buffer | Uint8Array | null;
  readonly attributes?: Readonly<Record<string, string>> | null;
  readonly orderingKey?: string | null;
}

/** Envelope → Pub/Sub message. `ordered`: the destination keeps per-key order, so the key is the ordering key. */
export function toPubSubMessage(envelope: Envelope, ordered: boolean): OutgoingMessage {
  const attributes = toBindingHeaders(envelope, PUBSUB_BINDING);
  const data = Buffer.from(envelope.body.buffer, envelope.body.byteOffset, envelope.body.byteLength);
  if (envelope.key === undefined) return { data, attributes };
  if (ordered && envelope.key !== '') return { data, attributes, orderingKey: envelope.key };
  attributes[PUBSUB_BINDING.prefix + PARTITION_KEY] = envelope.key;
  return { data, attributes };
}

/**
 * Pub/Sub message → envelope; never throws. A message from a foreign publisher decodes as far as it can:
 * without `ce-id` / `ce-type` those are `''` (the bus dead-letters such messages with the reason);
 * a structured-mode CloudEvent (`content-type: application/cloudevents+json`) is unpacked.
 */
export function fromPubSubMessage(message: IncomingMessage): Envelope {
  const raw = message.data ?? new Uint8Array(0);
  const body = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const decoded = fromBindingHeaders(message.attributes ?? {}, PUBSUB_BINDING);
  let { id, type } = decoded;
  let headers = decoded.headers;
  let data: Uint8Array = body;
  if (id === undefined && type === undefined && isStructured(headers[Header.contentType])) {
    const structured = fromStructuredCloudEvent(body);
    if (structured !== undefined) {
      const { [Header.contentType]: _structuredType, ...others } = headers;
      ({ id, type } = structured);
      headers = { ...others, ...structured.headers };
      data = structured.body;
    }
  }
  const { [PARTITION_KEY]: partitionKey, ...rest } = headers;
  const key = message.orderingKey ? message.orderingKey : partitionKey;
  const envelope = { id: id ?? '', type: type ?? '', headers: rest, body: data };
  return key === undefined ? envelope : { ...envelope, key };
}

function isStructured(contentType: string | undefined): boolean {
  return contentType?.toLowerCase().startsWith('application/cloudevents+json') ?? false;
}

/** Size as Pub/Sub counts it: data, attribute keys and values, and the ordering key, in bytes. */
export function messageSize(message: OutgoingMessage): number {
  let size = message.data.byteLength + Buffer.byteLength(message.orderingKey ?? '');
  for (const name of Object.keys(message.attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(message.attributes[name]!);
  }
  return size;
}

/**
 * Refuses, before anything is sent, what Pub/Sub would refuse: too large a message (`MESSAGE_TOO_LARGE`),
 * too many or too long attributes, or a reserved attribute name (`INVALID_MESSAGE`). Not retriable.
 * One pass on the publish path: exact UTF-8 byte counts are only taken when a string's length (at most
 * 3 bytes per UTF-16 unit) does not already prove it fits.
 */
export function checkPublishable(message: OutgoingMessage, id: string, maxMessageBytes: number): void {
  let count = 0;
  let upperBound = message.data.byteLength;
  for (const name of Object.keys(message.attributes)) {
    const value = message.attributes[name]!;
    count++;
    if (RESERVED_ATTRIBUTE.test(name)) {
      throw invalid(id, `attribute ${JSON.stringify(name)} starts with 'goog', which Pub/Sub reserves`);
    }
    if (exceeds(name, ATTRIBUTE_LIMITS.keyBytes)) {
      throw invalid(id, `attribute name ${JSON.stringify(name.slice(0, 40))}… is over 256 bytes`);
    }
    if (exceeds(value, ATTRIBUTE_LIMITS.valueBytes)) {
      throw invalid(id, `the value of attribute ${JSON.stringify(name)} is over 1,024 bytes`);
    }
    upperBound += 3 * (name.length + value.length);
  }
  if (count > ATTRIBUTE_LIMITS.count) {
    throw invalid(id, `has ${count} attributes, over Pub/Sub's limit of ${ATTRIBUTE_LIMITS.count}`);
  }
  const orderingKey = message.orderingKey ?? '';
  if (exceeds(orderingKey, ATTRIBUTE_LIMITS.orderingKeyBytes)) {
    throw invalid(id, 'its key (the ordering key) is over 1,024 bytes');
  }
  upperBound += 3 * orderingKey.length;
  if (upperBound <= maxMessageBytes) return;
  const size = messageSize(message);
  if (size > maxMessageBytes) {
    throw new MessageTooLargeError(id, size, maxMessageBytes);
  }
}

const RESERVED_ATTRIBUTE = /^goog/i;

function exceeds(text: string, maxBytes: number): boolean {
  return text.length * 3 > maxBytes && Buffer.byteLength(text) > maxBytes;
}

function invalid(id: string, reason: string): TransportError {
  return new TransportError(`message ${id} cannot be published to Pub/Sub: ${reason}`, {
    code: 'INVALID_MESSAGE',
    retriable: false,
  });
}

/**
 * Cuts the `omnibus-error-*` values of a dead letter to Pub/Sub's 1,024-byte attribute limit (a stack
 * trace is usually longer), at a character boundary, marking the cut with `…`.
 */
export function fitFailureHeaders(envelope: Envelope): Envelope {
  const headers: Record<string, string> = { ...envelope.headers };
  for (const name of Object.keys(headers)) {
    if (name.startsWith('omnibus-error-'))
      headers[name] = truncateUtf8(headers[name]!, ATTRIBUTE_LIMITS.valueBytes);
  }
  return { ...envelope, headers };
}

function truncateUtf8(value: string, maxBytes: number): string {
  if (Buffer.byteLength(value) <= maxBytes) return value;
  let out = '';
  let bytes = Buffer.byteLength('…');
  for (const char of value) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return `${out}…`;
}
