import type { BindingStyle, Envelope } from '@omnibus/core';
import { fromBindingHeaders, fromStructuredCloudEvent, toBindingHeaders } from '@omnibus/core';
import type { IHeaders, Message } from 'kafkajs';

/** The CloudEvents Kafka binding, binary mode: `ce_<attribute>` headers and a `content-type` header. */
export const KAFKA_BINDING: BindingStyle = { prefix: 'ce_', contentTypeHeader: 'content-type' };

/**
 * Transport headers, never part of an envelope: the delivery attempt of a retried record and the time
 * (ms since the epoch) before which it must not be handed out.
 */
export const ATTEMPT_HEADER = 'omnibus-attempt';
export const DUE_AT_HEADER = 'omnibus-due-at';

const STRUCTURED_CONTENT_TYPE = 'application/cloudevents';
const EMPTY = new Uint8Array(0);

/** What the codec needs of a fetched record (a kafkajs `KafkaMessage` is one). */
export interface RawRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: IHeaders;
}

export interface DecodedRecord {
  readonly envelope: Envelope;
  /** 1 unless the record was written by `retry`. */
  readonly attempt: number;
  /** When a retried record becomes due; undefined for any other record. */
  readonly dueAt: number | undefined;
}

/** Envelope → Kafka record: binary-mode CloudEvents headers, record key = envelope key. */
export function toKafkaMessage(envelope: Envelope): Message {
  const body = envelope.body;
  return {
    key: envelope.key ?? null,
    value: Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    headers: toBindingHeaders(envelope, KAFKA_BINDING),
  };
}

/**
 * Kafka record → envelope, for any record: ours (binary mode), a foreign structured-mode CloudEvent
 * (`application/cloudevents+json`), or something else entirely. What cannot be read is left empty
 * (`id`/`type` ''), so the bus dead-letters it with the reason; decoding never throws.
 */
export function fromKafkaRecord(record: RawRecord): DecodedRecord {
  const raw: Record<string, string> = {};
  let attempt = 1;
  let dueAt: number | undefined;
  let contentType: string | undefined;
  for (const name in record.headers ?? {}) {
    const value = headerText(record.headers![name]);
    if (value === undefined) continue;
    if (name === ATTEMPT_HEADER) {
      const parsed = Number(value);
      if (Number.isSafeInteger(parsed) && parsed >= 1) attempt = parsed;
    } else if (name === DUE_AT_HEADER) {
      const parsed = Number(value);
      if (Number.isFinite(parsed)) dueAt = parsed;
    } else {
      if (isContentType(name)) contentType = value;
      raw[name] = value;
    }
  }
  const body = record.value ?? EMPTY;
  const key = record.key === null ? undefined : record.key.toString('utf8');
  if (contentType?.toLowerCase().startsWith(STRUCTURED_CONTENT_TYPE) === true) {
    const event = fromStructuredCloudEvent(body);
    if (event !== undefined) {
      const headers: Record<string, string> = {};
      for (const name in raw) {
        if (!isContentType(name)) headers[name] = raw[name]!;
      }
      Object.assign(headers, event.headers);
      return {
        envelope: withKey({ id: event.id, type: event.type, headers, body: event.body }, key),
        attempt,
        dueAt,
      };
    }
  }
  const decoded = fromBindingHeaders(raw, KAFKA_BINDING);
  const envelope = withKey(
    { id: decoded.id ?? '', type: decoded.type ?? '', headers: decoded.headers, body },
    key,
  );
  return { envelope, attempt, dueAt };
}

/** The record to write to a retry topic: the original key, value and headers, with the new attempt and due time. */
export function toRetryMessage(record: RawRecord, attempt: number, dueAt: number): Message {
  const headers: IHeaders = {};
  for (const name in record.headers ?? {}) {
    if (name !== ATTEMPT_HEADER && name !== DUE_AT_HEADER) headers[name] = record.headers![name];
  }
  headers[ATTEMPT_HEADER] = String(attempt);
  headers[DUE_AT_HEADER] = String(dueAt);
  return { key: record.key, value: record.value, headers };
}

function headerText(value: IHeaders[string]): string | undefined {
  // A header repeated in one record arrives as an array: the last one wins, as in most Kafka clients.
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  if (last === undefined) return undefined;
  return typeof last === 'string' ? last : last.toString('utf8');
}

function withKey(
  envelope: { -readonly [K in keyof Envelope]: Envelope[K] },
  key: string | undefined,
): Envelope {
  if (key !== undefined) envelope.key = key;
  return envelope;
}

/** Header names are case-insensitive in the binding; the length test spares most names a lowercase copy. */
function isContentType(name: string): boolean {
  return name.length === 12 && name.toLowerCase() === 'content-type';
}
