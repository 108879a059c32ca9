import type { MsgHdrs } from '@nats-io/transport-node';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { Envelope } from '@omnibus/core';
import {
  type BindingStyle,
  Header,
  fromStructuredCloudEvent,
  isCloudEventsAttributeName,
} from '@omnibus/core/transport';

/**
 * The CloudEvents NATS protocol binding, binary mode: attributes as `ce-<attr>` headers, `datacontenttype`
 * as `content-type`. A message whose content type is `application/cloudevents+json` is read as a
 * structured-mode event.
 */
export const NATS_BINDING: BindingStyle = { prefix: 'ce-', contentTypeHeader: 'content-type' };
const CONTENT_TYPE = 'content-type';
const STRUCTURED = 'application/cloudevents+json';
/** The envelope's key, as the CloudEvents Partitioning extension attribute `partitionkey`. */
const KEY_HEADER = `${NATS_BINDING.prefix}partitionkey`;
const ID_HEADER = `${NATS_BINDING.prefix}id`;
const TYPE_HEADER = `${NATS_BINDING.prefix}type`;
/**
 * Set on a dead-letter copy (the DLQ publish's id). A replay keeps it, so the replayed message gets a
 * fresh `Nats-Msg-Id` instead of being dropped as a duplicate of the original within the window.
 */
export const DEAD_LETTER_HEADER = 'omnibus-nats-dead-letter';
/** Headers of the server's own (`Nats-Msg-Id`, `Nats-Expected-*`, republish): not part of the message. */
const SERVER_HEADER = /^nats-/i;
const C = 'c'.charCodeAt(0);
const N = 'n'.charCodeAt(0);
const N_UPPER = 'N'.charCodeAt(0);

export interface EncodedMessage {
  readonly headers: MsgHdrs;
  readonly data: Uint8Array;
  /** `Nats-Msg-Id`, for JetStream's duplicate window. */
  readonly msgId: string;
}

/** Envelope → NATS message in binary mode; the id is also the `Nats-Msg-Id`. */
export function encodeEnvelope(envelope: Envelope): EncodedMessage {
  const headers = natsHeaders();
  const store = headerStoreOf(headers);
  // `toBindingHeaders(envelope, NATS_BINDING)`, written straight into the headers.
  if (envelope.id !== '') put(headers, store, ID_HEADER, envelope.id);
  if (envelope.type !== '') put(headers, store, TYPE_HEADER, envelope.type);
  const own = envelope.headers;
  for (const name of Object.keys(own)) {
    const value = own[name]!;
    if (name === Header.contentType) put(headers, store, CONTENT_TYPE, value);
    else if (isCloudEventsAttributeName(name)) put(headers, store, NATS_BINDING.prefix + name, value);
    else put(headers, store, name, value);
  }
  if (envelope.key !== undefined) put(headers, store, KEY_HEADER, envelope.key);
  const deadLetter = own[DEAD_LETTER_HEADER];
  return {
    headers,
    data: envelope.body,
    msgId: deadLetter === undefined ? envelope.id : `${envelope.id}~${deadLetter}`,
  };
}

/**
 * The client's own store of a `MsgHdrs` (`MsgHdrsImpl.headers` of @nats-io/nats-core 3.x, outside the
 * declared type), or `undefined` if it is not there. Writing to it skips what `set` does per header:
 * listing and comparing every key set so far, twice, and copying the name to check it.
 */
export function headerStoreOf(headers: MsgHdrs): Map<string, string[]> | undefined {
  const store = (headers as unknown as { headers?: unknown }).headers;
  return store instanceof Map ? (store as Map<string, string[]>) : undefined;
}

/** A header name as the client's `set` checks it: printable ASCII, no colon. */
const HEADER_NAME = /^[!-9;-~]+$/;
const LINE_BREAK = /\r\n|\r|\n/g;

/** `headers.set(name, value)`, through the store when the name needs no check beyond {@link HEADER_NAME}. */
function put(headers: MsgHdrs, store: Map<string, string[]> | undefined, name: string, raw: string): void {
  // NATS headers are lines: a value may not hold CR or LF (a dead letter's stack does), so they are escaped.
  const value = raw.includes('\n') || raw.includes('\r') ? raw.replace(LINE_BREAK, '\\n') : raw;
  // The client's `set` throws a clear error for a name it cannot write.
  if (store !== undefined && HEADER_NAME.test(name)) store.set(name, [value.trim()]);
  else headers.set(name, value);
}

/**
 * NATS message → envelope. Never throws: whatever a foreign client sent becomes an envelope, with `id`
 * and `type` empty when absent or when a structured-mode body is not an event (the bus dead-letters
 * those with the reason). `Nats-Msg-Id` stands in for a missing `ce-id`. Of a header sent twice, the last
 * value counts.
 */
export function decodeMessage(headers: MsgHdrs | undefined, data: Uint8Array): Envelope {
  const reader = new HeaderReader();
  // Iterated, not looked up by name: the client's `get` scans every key, once per header.
  if (headers !== undefined) for (const [name, values] of headers) reader.add(name, values.at(-1) ?? '');
  return reader.envelope(data);
}

const utf8 = new TextDecoder();

/**
 * {@link decodeMessage} from the header block as it came off the wire (`NATS/1.0\r\nName: value\r\n…`),
 * `undefined` for a message without headers. One pass over one string: the client's own `headers` builds
 * a `MsgHdrs` first, checking and canonicalising each name, which costs more than the rest of decoding.
 * Lines without a name before a colon are skipped; values are trimmed, as the client does.
 */
export function decodeHeaderBlock(block: Uint8Array | undefined, data: Uint8Array): Envelope {
  const reader = new HeaderReader();
  if (block !== undefined) {
    const text = utf8.decode(block);
    // The first line is the status line (`NATS/1.0`).
    let start = text.indexOf('\r\n');
    while (start !== -1) {
      start += 2;
      const end = text.indexOf('\r\n', start);
      const line = end === -1 ? text.slice(start) : text.slice(start, end);
      const colon = line.indexOf(':');
      if (colon > 0) reader.add(line.slice(0, colon), line.slice(colon + 1).trim());
      start = end;
    }
  }
  return reader.envelope(data);
}

/**
 * NATS headers → envelope parts in one pass: the CloudEvents binding (`fromBindingHeaders` with
 * {@link NATS_BINDING}), the server's `Nats-*` headers set apart, `ce-partitionkey` as the key.
 */
class HeaderReader {
  readonly headers = Object.create(null) as Record<string, string>;
  id: string | undefined;
  type: string | undefined;
  msgId: string | undefined;
  contentType: string | undefined;

  add(name: string, value: string): void {
    const first = name.charCodeAt(0);
    if (first === C && name.length === CONTENT_TYPE.length && name.toLowerCase() === CONTENT_TYPE) {
      this.contentType = value;
      this.headers[Header.contentType] = value;
    } else if (first === C && name.startsWith(NATS_BINDING.prefix)) {
      const attribute = name.slice(NATS_BINDING.prefix.length);
      if (!isCloudEventsAttributeName(attribute)) this.headers[name] = value;
      else if (attribute === 'id') this.id = value;
      else if (attribute === 'type') this.type = value;
      else this.headers[attribute] = value;
    } else if ((first === N || first === N_UPPER) && SERVER_HEADER.test(name)) {
      if (name.toLowerCase() === 'nats-msg-id') this.msgId = value;
    } else {
      this.headers[name] = value;
    }
  }

  envelope(data: Uint8Array): Envelope {
    if (this.contentType !== undefined && this.contentType.toLowerCase().startsWith(STRUCTURED)) {
      const event = fromStructuredCloudEvent(data);
      if (event === undefined) return { id: this.msgId ?? '', type: '', headers: {}, body: data };
      const key = event.headers.partitionkey;
      delete event.headers.partitionkey;
      return key === undefined ? event : { ...event, key };
    }
    const headers = this.headers;
    const key = headers.partitionkey;
    if (key !== undefined) delete headers.partitionkey;
    const id = this.id ?? this.msgId ?? '';
    const type = this.type ?? '';
    return key === undefined ? { id, type, headers, body: data } : { id, type, key, headers, body: data };
  }
}
