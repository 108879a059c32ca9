import type { Envelope } from '@omnibus/core';
import { Header } from '@omnibus/core';
import {
  type BindingStyle,
  fromStructuredCloudEvent,
  isCloudEventsAttributeName,
} from '@omnibus/core/transport';

/** The CloudEvents Kafka binding, binary mode: `ce_<attribute>` headers and a `content-type` header. */
export const KAFKA_BINDING: BindingStyle = { prefix: 'ce_', contentTypeHeader: 'content-type' };

/**
 * Transport headers, never part of an envelope: the delivery attempt of a retried record and the time
 * (ms since the epoch) before which it must not be handed out. Honoured only on a retry topic, which only
 * the transport writes: from any other producer they are ordinary headers.
 */
export const ATTEMPT_HEADER = 'omnibus-attempt';
export const DUE_AT_HEADER = 'omnibus-due-at';

const PREFIX = 'ce_';
const CONTENT_TYPE = 'content-type';
const STRUCTURED_CONTENT_TYPE = 'application/cloudevents';
const EMPTY = new Uint8Array(0);
/** Names remembered by the name caches; past it names are mapped without caching (hostile producers). */
const MAX_CACHED_NAMES = 512;

/** A header value as the clients give it: a repeated header arrives as an array. */
export type HeaderValue = Buffer | string | readonly (Buffer | string)[] | undefined;
/** Record headers by name, built without a prototype (a header may be named `__proto__`). */
export type RecordHeaders = Readonly<Record<string, HeaderValue>>;
/** Headers as a client gives them: kafkajs by name, @platformatic/kafka as a map of bytes. */
export type ClientHeaders = RecordHeaders | ReadonlyMap<Buffer, Buffer>;

/** What the codec needs of a fetched record, whichever client fetched it. */
export interface RawRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: ClientHeaders;
}

/** What a record may cost before it is decoded, and what is trusted of it. */
export interface DecodeRules {
  /** Read from the source's retry topic: only there are `omnibus-attempt` and `omnibus-due-at` ours. */
  readonly fromRetryTopic: boolean;
  /** Latest due time honoured, ms since the epoch: later ones are clamped to it. */
  readonly latestDueAt: number;
  /** More headers than this and the record is refused (dead-lettered with the reason). */
  readonly maxHeaders: number;
  /** More header bytes (names and values) than this and the record is refused. */
  readonly maxHeaderBytes: number;
}

export interface DecodedRecord {
  readonly envelope: Envelope;
  /** 1 unless the record was written to the retry topic by `retry`. */
  readonly attempt: number;
  /** When a retried record becomes due; undefined for any other record. */
  readonly dueAt: number | undefined;
  /** Why the record is dead-lettered without reaching a handler; undefined for a record that may go. */
  readonly refused: string | undefined;
}

/** A Kafka record to produce, in the shape both clients take (string keys, string or Buffer values). */
export interface OutgoingRecord {
  readonly key: string | Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string | Buffer>>;
}

const wireNames = new Map<string, string>();
const envelopeNames = new Map<string, string | null>();

/**
 * Most attributes repeat from message to message (`specversion`, `type`, `source`, `content-type`): the
 * last value seen under each header name is kept as text and bytes, so a repeat is encoded and decoded
 * once, not per message (a byte compare instead of a UTF-8 decode and a new string). A name whose value
 * changed the last few times (`id`, `time`) is left alone. Short values only.
 */
const MAX_REPEATED_VALUE_BYTES = 64;
/** Misses in a row after which a header name's values count as changing with every message. */
const VOLATILE_AFTER = 8;
interface RepeatedValue {
  text: string;
  bytes: Buffer;
  misses: number;
}
const lastWritten = new Map<string, RepeatedValue>();
const lastRead = new Map<string, RepeatedValue>();

/** Envelope → Kafka record: binary-mode CloudEvents headers, record key = envelope key. */
export function toKafkaMessage(envelope: Envelope): OutgoingRecord {
  const body = envelope.body;
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  headers.ce_id = envelope.id;
  headers.ce_type = envelope.type;
  const source = envelope.headers;
  for (const name of Object.keys(source)) headers[wireName(name)] = source[name]!;
  return {
    key: envelope.key ?? null,
    value: Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    headers: encodeRepeats(headers),
  };
}

/** Header values equal to the last one written under their name go as the bytes made then. */
function encodeRepeats(headers: Record<string, string>): Record<string, string | Buffer> {
  const encoded = headers as Record<string, string | Buffer>;
  for (const name of Object.keys(headers)) {
    const text = headers[name]!;
    const last = lastWritten.get(name);
    if (last === undefined) {
      if (text.length <= MAX_REPEATED_VALUE_BYTES && lastWritten.size < MAX_CACHED_NAMES)
        lastWritten.set(name, { text, bytes: Buffer.from(text), misses: 0 });
    } else if (last.text === text) {
      last.misses = 0;
      encoded[name] = last.bytes;
    } else if (last.misses < VOLATILE_AFTER && text.length <= MAX_REPEATED_VALUE_BYTES) {
      last.misses++;
      last.text = text;
      last.bytes = Buffer.from(text);
    }
  }
  return encoded;
}

/**
 * Kafka record → envelope, for any record: ours (binary mode), a foreign structured-mode CloudEvent
 * (`application/cloudevents+json`), or something else entirely. What cannot be read is left empty
 * (`id`/`type` ''), so the bus dead-letters it with the reason; decoding never throws. A record over
 * the header limits is refused before any header is read.
 */
export function fromKafkaRecord(record: RawRecord, rules: DecodeRules): DecodedRecord {
  const body = record.value ?? EMPTY;
  const key = record.key === null ? undefined : record.key.toString('utf8');
  let refused: string | undefined;
  let source: RecordHeaders | undefined;
  if (record.headers instanceof Map) {
    refused = mapOverLimits(record.headers, rules);
    if (refused === undefined) source = fromHeaderMap(record.headers);
  } else {
    source = record.headers as RecordHeaders | undefined;
  }
  const names = source === undefined ? [] : Object.keys(source);
  refused ??= overLimits(source, names, rules);
  if (refused !== undefined) {
    return {
      envelope: withKey({ id: '', type: '', headers: {}, body }, key),
      attempt: 1,
      dueAt: undefined,
      refused,
    };
  }
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  let id = '';
  let type = '';
  let attempt = 1;
  let dueAt: number | undefined;
  let contentType: string | undefined;
  for (const name of names) {
    const value = headerText(name, source![name]);
    if (value === undefined) continue;
    if (rules.fromRetryTopic && name === ATTEMPT_HEADER) {
      const parsed = Number(value);
      if (Number.isSafeInteger(parsed) && parsed >= 1) attempt = parsed;
      continue;
    }
    if (rules.fromRetryTopic && name === DUE_AT_HEADER) {
      const parsed = Number(value);
      if (Number.isFinite(parsed)) dueAt = Math.min(parsed, rules.latestDueAt);
      continue;
    }
    const attribute = envelopeName(name);
    if (attribute === 'id') id = value;
    else if (attribute === 'type') type = value;
    else {
      if (attribute === Header.contentType) contentType = value;
      headers[attribute ?? name] = value;
    }
  }
  if (contentType?.toLowerCase().startsWith(STRUCTURED_CONTENT_TYPE) === true) {
    const event = fromStructuredCloudEvent(body);
    if (event !== undefined) {
      delete headers[Header.contentType];
      for (const name of Object.keys(event.headers)) headers[name] = event.headers[name]!;
      return {
        envelope: withKey({ id: event.id, type: event.type, headers, body: event.body }, key),
        attempt,
        dueAt,
        refused: undefined,
      };
    }
  }
  return { envelope: withKey({ id, type, headers, body }, key), attempt, dueAt, refused: undefined };
}

/** The record to write to a retry topic: the original key, value and headers, with the new attempt and due time. */
export function toRetryMessage(record: RawRecord, attempt: number, dueAt: number): OutgoingRecord {
  const headers = copyHeaders(record.headers);
  headers[ATTEMPT_HEADER] = String(attempt);
  headers[DUE_AT_HEADER] = String(dueAt);
  return { key: record.key, value: record.value, headers };
}

/**
 * The record to write to a dead-letter topic: the original key, value and headers as they arrived (no
 * attribute added, none rewritten), plus `failureHeaders` (`omnibus-error-*`). A refused record keeps
 * none of its headers: they are what it was refused for.
 */
export function toDeadLetterMessage(
  record: RawRecord,
  failureHeaders: Readonly<Record<string, string>>,
  keepHeaders: boolean,
): OutgoingRecord {
  const headers = keepHeaders
    ? copyHeaders(record.headers)
    : (Object.create(null) as Record<string, string | Buffer>);
  for (const name of Object.keys(failureHeaders)) headers[name] = failureHeaders[name]!;
  return { key: record.key, value: record.value, headers };
}

/** Own headers without the transport's retry headers; a repeated header keeps its last value. */
function copyHeaders(client: ClientHeaders | undefined): Record<string, string | Buffer> {
  const headers = Object.create(null) as Record<string, string | Buffer>;
  if (client === undefined) return headers;
  const source = client instanceof Map ? fromHeaderMap(client) : (client as RecordHeaders);
  for (const name of Object.keys(source)) {
    if (name === ATTEMPT_HEADER || name === DUE_AT_HEADER) continue;
    const value = lastValue(source[name]);
    if (value !== undefined) headers[name] = value;
  }
  return headers;
}

/** The header limits checked on a map of bytes, before any name is decoded. */
function mapOverLimits(headers: ReadonlyMap<Buffer, Buffer>, rules: DecodeRules): string | undefined {
  if (headers.size > rules.maxHeaders) {
    return `record has ${headers.size} headers, over the limit of ${rules.maxHeaders}`;
  }
  let bytes = 0;
  for (const [name, value] of headers) bytes += name.length + (value?.length ?? 0);
  return bytes > rules.maxHeaderBytes
    ? `record headers are over the limit of ${rules.maxHeaderBytes} bytes`
    : undefined;
}

/** A map of header bytes → headers by name, without a prototype; a repeated name becomes an array. */
function fromHeaderMap(headers: ReadonlyMap<Buffer, Buffer>): RecordHeaders {
  const byName = Object.create(null) as Record<string, Buffer | Buffer[]>;
  for (const [rawName, value] of headers) {
    const name = rawName.toString('utf8');
    const known = byName[name];
    if (known === undefined) byName[name] = value;
    else if (Array.isArray(known)) known.push(value);
    else byName[name] = [known, value];
  }
  return byName;
}

function overLimits(
  source: RecordHeaders | undefined,
  names: readonly string[],
  rules: DecodeRules,
): string | undefined {
  if (names.length > rules.maxHeaders) {
    return `record has ${names.length} headers, over the limit of ${rules.maxHeaders}`;
  }
  let bytes = 0;
  for (const name of names) {
    bytes += name.length;
    const value = source![name];
    if (Array.isArray(value)) {
      if (value.length > rules.maxHeaders) {
        return `record repeats header ${JSON.stringify(name.slice(0, 64))} ${value.length} times, over the limit of ${rules.maxHeaders}`;
      }
      for (const item of value as readonly (Buffer | string)[]) bytes += item.length;
    } else if (value !== undefined) {
      bytes += (value as Buffer | string).length;
    }
    if (bytes > rules.maxHeaderBytes) {
      return `record headers are over the limit of ${rules.maxHeaderBytes} bytes`;
    }
  }
  return undefined;
}

/** The Kafka header name of an envelope header: attributes get `ce_`, `datacontenttype` is `content-type`. */
function wireName(name: string): string {
  const known = wireNames.get(name);
  if (known !== undefined) return known;
  const wire =
    name === Header.contentType ? CONTENT_TYPE : isCloudEventsAttributeName(name) ? PREFIX + name : name;
  if (wireNames.size < MAX_CACHED_NAMES) wireNames.set(name, wire);
  return wire;
}

/**
 * The attribute a Kafka header carries (`id`, `type`, `datacontenttype`, ...), or null for any other
 * header. Header names are case-insensitive for `content-type` only, as the binding says.
 */
function envelopeName(name: string): string | null {
  const known = envelopeNames.get(name);
  if (known !== undefined) return known;
  let attribute: string | null = null;
  if (name.length === CONTENT_TYPE.length && name.toLowerCase() === CONTENT_TYPE)
    attribute = Header.contentType;
  else if (name.startsWith(PREFIX) && isCloudEventsAttributeName(name.slice(PREFIX.length)))
    attribute = name.slice(PREFIX.length);
  if (envelopeNames.size < MAX_CACHED_NAMES) envelopeNames.set(name, attribute);
  return attribute;
}

/** A header repeated in one record arrives as an array: the last one wins, as in most Kafka clients. */
function lastValue(value: HeaderValue): Buffer | string | undefined {
  return Array.isArray(value)
    ? (value as readonly (Buffer | string)[])[value.length - 1]
    : (value as Buffer | string | undefined);
}

/** A header's text; the last value read under `name` is reused when the bytes repeat. */
function headerText(name: string, value: HeaderValue): string | undefined {
  const last = lastValue(value);
  if (last === undefined || typeof last === 'string') return last;
  if (last.length > MAX_REPEATED_VALUE_BYTES) return last.toString('utf8');
  const seen = lastRead.get(name);
  if (seen === undefined) {
    const text = last.toString('utf8');
    if (lastRead.size < MAX_CACHED_NAMES) lastRead.set(name, { text, bytes: Buffer.from(last), misses: 0 });
    return text;
  }
  if (seen.misses >= VOLATILE_AFTER) return last.toString('utf8');
  if (seen.bytes.equals(last)) {
    seen.misses = 0;
    return seen.text;
  }
  seen.misses++;
  seen.text = last.toString('utf8');
  // A copy: the fetched bytes are a view of a whole fetch response, which must not be kept alive.
  seen.bytes = Buffer.from(last);
  return seen.text;
}

function withKey(
  envelope: { -readonly [K in keyof Envelope]: Envelope[K] },
  key: string | undefined,
): Envelope {
  if (key !== undefined) envelope.key = key;
  return envelope;
}
