import type { MsgHdrs } from '@nats-io/transport-node';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { Envelope } from '@omnibus/core';
import {
  type BindingStyle,
  fromBindingHeaders,
  fromStructuredCloudEvent,
  toBindingHeaders,
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
/**
 * Set on a dead-letter copy (the DLQ publish's id). A replay keeps it, so the replayed message gets a
 * fresh `Nats-Msg-Id` instead of being dropped as a duplicate of the original within the window.
 */
export const DEAD_LETTER_HEADER = 'omnibus-nats-dead-letter';
/** Headers of the server's own (`Nats-Msg-Id`, `Nats-Expected-*`, republish): not part of the message. */
const SERVER_HEADER = /^nats-/i;

export interface EncodedMessage {
  readonly headers: MsgHdrs;
  readonly data: Uint8Array;
  /** `Nats-Msg-Id`, for JetStream's duplicate window. */
  readonly msgId: string;
}

/** Envelope → NATS message in binary mode; the id is also the `Nats-Msg-Id`. */
export function encodeEnvelope(envelope: Envelope): EncodedMessage {
  const headers = natsHeaders();
  const bound = toBindingHeaders(envelope, NATS_BINDING);
  // NATS headers are lines: a value may not hold CR or LF (a dead letter's stack does), so they are escaped.
  for (const name of Object.keys(bound)) headers.set(name, bound[name]!.replace(/\r\n|\r|\n/g, '\\n'));
  if (envelope.key !== undefined) headers.set(KEY_HEADER, envelope.key);
  const deadLetter = envelope.headers[DEAD_LETTER_HEADER];
  return {
    headers,
    data: envelope.body,
    msgId: deadLetter === undefined ? envelope.id : `${envelope.id}~${deadLetter}`,
  };
}

/**
 * NATS message → envelope. Never throws: whatever a foreign client sent becomes an envelope, with `id`
 * and `type` empty when absent or when a structured-mode body is not an event (the bus dead-letters
 * those with the reason). `Nats-Msg-Id` stands in for a missing `ce-id`.
 */
export function decodeMessage(headers: MsgHdrs | undefined, data: Uint8Array): Envelope {
  const raw = Object.create(null) as Record<string, string>;
  let msgId: string | undefined;
  if (headers !== undefined) {
    for (const name of headers.keys()) {
      if (SERVER_HEADER.test(name)) {
        if (name.toLowerCase() === 'nats-msg-id') msgId = headers.get(name);
        continue;
      }
      raw[name] = headers.get(name);
    }
  }
  const contentType = lookup(raw, CONTENT_TYPE);
  if (contentType !== undefined && contentType.toLowerCase().startsWith(STRUCTURED)) {
    const event = fromStructuredCloudEvent(data);
    if (event === undefined) return { id: msgId ?? '', type: '', headers: {}, body: data };
    const key = event.headers.partitionkey;
    delete event.headers.partitionkey;
    return key === undefined ? event : { ...event, key };
  }
  const decoded = fromBindingHeaders(raw, NATS_BINDING);
  const bodyHeaders = decoded.headers;
  const key = bodyHeaders.partitionkey;
  if (key !== undefined) delete bodyHeaders.partitionkey;
  const id = decoded.id ?? msgId ?? '';
  const type = decoded.type ?? '';
  return key === undefined
    ? { id, type, headers: bodyHeaders, body: data }
    : { id, type, key, headers: bodyHeaders, body: data };
}

function lookup(raw: Record<string, string>, lowerName: string): string | undefined {
  for (const name of Object.keys(raw)) if (name.toLowerCase() === lowerName) return raw[name];
  return undefined;
}
