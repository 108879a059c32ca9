import type { Envelope } from '@omnibus/core';
import {
  type BindingStyle,
  fromBindingHeaders,
  fromStructuredCloudEvent,
  toBindingHeaders,
} from '@omnibus/core/transport';
import { unwrapSnsNotification } from './sns-notification.js';

/** A message attribute as SQS and SNS both spell it. */
export interface AttributeValue {
  DataType: string | undefined;
  StringValue?: string | undefined;
  BinaryValue?: Uint8Array | undefined;
}

/**
 * CloudEvents binary mode on SQS/SNS message attributes: `ce-<attribute>` (HTTP's spelling; `ce_` is read
 * too), `content-type` for `datacontenttype`, other headers under their own names.
 */
export const SQS_BINDING: BindingStyle = {
  prefix: 'ce-',
  alsoRead: ['ce_'],
  contentTypeHeader: 'content-type',
};

/** SQS accepts at most 10 message attributes, and SNS delivers no more than 10 to SQS. */
export const MAX_ATTRIBUTES = 10;
/** SNS's message limit, and SQS's for a batch: body plus attribute names, types and values. */
export const MAX_MESSAGE_BYTES = 262_144;

/** The headers that do not fit the 10 attributes, as one JSON object. */
export const PACKED_ATTRIBUTE = 'omnibus-headers';
/** The envelope's key (the FIFO message group id is not enough: keyless FIFO messages get their id). */
export const KEY_ATTRIBUTE = 'omnibus-key';
/** `base64` when the body is not text SQS can carry; `empty` for an empty body (SQS refuses ''). */
export const BODY_ENCODING_ATTRIBUTE = 'omnibus-body-encoding';

/**
 * Attributes written one by one first, in this order, so filter policies and foreign tools see them
 * directly; custom headers come after them (docs/aws.md lists the order).
 */
const PRIORITY = [
  BODY_ENCODING_ATTRIBUTE,
  'ce-id',
  'ce-type',
  'ce-source',
  'ce-specversion',
  'content-type',
  KEY_ATTRIBUTE,
  'ce-time',
  'ce-subject',
  'ce-correlationid',
  'ce-traceparent',
];

/** SQS message attribute names: letters, digits, `_`, `-`, `.`; no `..`, no leading/trailing `.`; not `AWS.`/`Amazon.`. */
const ATTRIBUTE_NAME = /^(?!\.)(?!.*\.\.)(?!.*\.$)[A-Za-z0-9_.-]{1,256}$/;
const RESERVED_ATTRIBUTE_NAME = /^(aws|amazon)\./i;
/** Characters SQS accepts in bodies and string values (#x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF). */
const INVALID_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface EncodedMessage {
  readonly body: string;
  readonly attributes: Record<string, AttributeValue>;
  /** Bytes SQS/SNS count against their limit. */
  readonly size: number;
}

/**
 * Envelope → SQS/SNS message. The body goes as text when it is valid UTF-8 SQS can carry, else base64
 * (marked by `omnibus-body-encoding`). Attributes: `ce-*`, `content-type`, the headers and the key, one
 * attribute each while they fit in 10; otherwise the first 9 by priority and the rest in `omnibus-headers`
 * (JSON). Empty values and names SQS refuses go there too. Lossless: {@link decodeMessage} inverts it.
 */
export function encodeMessage(envelope: Envelope): EncodedMessage {
  const { body, encoding } = encodeBody(envelope.body);
  const headers = toBindingHeaders(envelope, SQS_BINDING);
  const entries: [string, string][] = [];
  if (encoding !== undefined) entries.push([BODY_ENCODING_ATTRIBUTE, encoding]);
  for (const name of PRIORITY) {
    if (name === KEY_ATTRIBUTE) {
      if (envelope.key !== undefined) entries.push([KEY_ATTRIBUTE, envelope.key]);
    } else if (headers[name] !== undefined) {
      entries.push([name, headers[name]]);
    }
  }
  for (const name of Object.keys(headers)) if (!PRIORITY.includes(name)) entries.push([name, headers[name]!]);

  const fitsOneEach =
    entries.length <= MAX_ATTRIBUTES && entries.every(([name, value]) => canBeAttribute(name, value));
  // Null prototypes: a header named `__proto__` is an attribute like any other.
  const attributes = Object.create(null) as Record<string, AttributeValue>;
  const packed = Object.create(null) as Record<string, string>;
  let single = 0;
  for (const [name, value] of entries) {
    if (fitsOneEach || (single < MAX_ATTRIBUTES - 1 && canBeAttribute(name, value))) {
      attributes[name] = { DataType: 'String', StringValue: value };
      single++;
    } else {
      packed[name] = value;
    }
  }
  if (!fitsOneEach)
    attributes[PACKED_ATTRIBUTE] = { DataType: 'String', StringValue: JSON.stringify(packed) };

  let size = Buffer.byteLength(body);
  for (const name of Object.keys(attributes)) {
    size += Buffer.byteLength(name) + 'String'.length + Buffer.byteLength(attributes[name]!.StringValue!);
  }
  return { body, attributes, size };
}

function canBeAttribute(name: string, value: string): boolean {
  return (
    value.length > 0 &&
    ATTRIBUTE_NAME.test(name) &&
    !RESERVED_ATTRIBUTE_NAME.test(name) &&
    !INVALID_CHARACTER.test(value)
  );
}

function encodeBody(bytes: Uint8Array): { body: string; encoding?: string } {
  if (bytes.byteLength === 0) return { body: '-', encoding: 'empty' };
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch {
    return {
      body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
      encoding: 'base64',
    };
  }
  if (INVALID_CHARACTER.test(text)) {
    return {
      body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
      encoding: 'base64',
    };
  }
  return { body: text };
}

/** What SQS returned for one message (the body and `MessageAttributes`). */
export interface ReceivedParts {
  readonly body: string | undefined;
  readonly attributes: Record<string, AttributeValue> | undefined;
}

/**
 * SQS message → envelope; never throws. Reads our attributes (packed ones included), an SNS JSON envelope
 * (a subscription without raw delivery), a structured-mode CloudEvent body, or a foreign message with no
 * attributes at all: then `id` and `type` are '' and the bus dead-letters it with the reason. Attributes
 * we do not know become headers (binary ones base64); a packed attribute that is not JSON is kept as is.
 */
export function decodeMessage(received: ReceivedParts): Envelope {
  let body = received.body ?? '';
  let attributes = received.attributes ?? {};
  if (Object.keys(attributes).length === 0) {
    const notification = unwrapSnsNotification(body);
    if (notification !== undefined) {
      body = notification.message;
      attributes = notification.attributes;
    }
  }
  const raw = Object.create(null) as Record<string, string>;
  for (const name of Object.keys(attributes)) {
    const value = attributeText(attributes[name]!);
    if (name === PACKED_ATTRIBUTE) {
      const packed = parsePacked(value);
      if (packed === undefined) raw[name] = value;
      else Object.assign(raw, packed);
    } else {
      raw[name] = value;
    }
  }
  const key = raw[KEY_ATTRIBUTE];
  delete raw[KEY_ATTRIBUTE];
  const encoding = raw[BODY_ENCODING_ATTRIBUTE];
  let bytes: Uint8Array;
  if (encoding === 'base64') bytes = Buffer.from(body, 'base64');
  else if (encoding === 'empty') bytes = new Uint8Array(0);
  else bytes = Buffer.from(body, 'utf8');
  if (encoding === 'base64' || encoding === 'empty') delete raw[BODY_ENCODING_ATTRIBUTE];

  const decoded = fromBindingHeaders(raw, SQS_BINDING);
  let { id, type } = decoded;
  let headers = decoded.headers;
  if (id === undefined && type === undefined) {
    const structured = fromStructuredCloudEvent(bytes);
    if (structured !== undefined) {
      ({ id, type } = structured);
      headers = { ...headers, ...structured.headers };
      bytes = structured.body;
    }
  }
  return { id: id ?? '', type: type ?? '', ...(key === undefined ? {} : { key }), headers, body: bytes };
}

function attributeText(value: AttributeValue): string {
  if (value.StringValue !== undefined) return value.StringValue;
  if (value.BinaryValue !== undefined) return Buffer.from(value.BinaryValue).toString('base64');
  return '';
}

function parsePacked(value: string): Record<string, string> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const out = Object.create(null) as Record<string, string>;
  for (const [name, item] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof item !== 'string') return undefined;
    out[name] = item;
  }
  return out;
}
