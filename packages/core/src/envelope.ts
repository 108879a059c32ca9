/**
 * The neutral form of a message as it crosses a transport. `id` and `type` are the CloudEvents `id` and
 * `type`; every other CloudEvents attribute, our own `omnibus-*` headers and the application's custom
 * headers live in `headers` under their own names. Drivers map this to their broker's CloudEvents
 * binary-mode binding with {@link toBindingHeaders} / {@link fromBindingHeaders}, so the mapping is
 * lossless and the same on every broker.
 */
export interface Envelope {
  readonly id: string;
  readonly type: string;
  /** Partition / ordering key (Kafka record key, Pub/Sub ordering key, SQS message group). */
  readonly key?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** Header names used inside `Envelope.headers`. */
export const Header = {
  specVersion: 'specversion',
  source: 'source',
  time: 'time',
  contentType: 'datacontenttype',
  subject: 'subject',
  dataSchema: 'dataschema',
  correlationId: 'correlationid',
  causationId: 'causationid',
  traceParent: 'traceparent',
  traceState: 'tracestate',
  /** Set on a replayed subscription dead letter: only this subscriber group handles it, others ack it. */
  targetGroup: 'omnibus-target-group',
  /** Set by `replayDeadLetters` on what it moves back: the run that moved it, so that run ends at it. */
  replayId: 'omnibus-replay-id',
  errorMessage: 'omnibus-error-message',
  errorCode: 'omnibus-error-code',
  errorStack: 'omnibus-error-stack',
  errorAttempts: 'omnibus-error-attempts',
  errorDestination: 'omnibus-error-destination',
  errorGroup: 'omnibus-error-group',
  errorFailedAt: 'omnibus-error-failed-at',
} as const;

export const CLOUDEVENTS_SPEC_VERSION = '1.0';

/** CloudEvents attribute names are lowercase letters and digits (spec 1.0, "Attribute Naming Convention"). */
const ATTRIBUTE_NAME = /^[a-z0-9]{1,64}$/;

export function isCloudEventsAttributeName(name: string): boolean {
  return ATTRIBUTE_NAME.test(name);
}

/** How one broker writes CloudEvents binary mode: a prefix per attribute and a content-type header. */
export interface BindingStyle {
  /** Prefix written before each attribute name: `ce_` (Kafka), `cloudEvents_` (AMQP), `ce-` (Pub/Sub). */
  readonly prefix: string;
  /** Other prefixes accepted when reading, e.g. `cloudEvents:` for AMQP. */
  readonly alsoRead?: readonly string[];
  /**
   * Header that carries `datacontenttype`, when the binding puts it outside the prefixed attributes
   * (Kafka: `content-type`). `undefined` when the driver carries it in a native property (AMQP).
   */
  readonly contentTypeHeader?: string;
}

/**
 * Envelope → broker headers in CloudEvents binary mode. Attributes (`id`, `type` and every header whose
 * name is a valid CloudEvents attribute name) get the binding's prefix; other headers (ours, with a `-`)
 * are written as they are. The envelope's key is left to the driver (record key, ordering key...).
 */
export function toBindingHeaders(envelope: Envelope, style: BindingStyle): Record<string, string> {
  // Null prototype, own keys only: a header named `__proto__` is a header like any other, and nothing
  // inherited is copied. An empty id or type (a foreign message being dead-lettered) is left out rather
  // than written as an empty CloudEvents attribute, which CloudEvents forbids.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  if (envelope.id !== '') out[`${style.prefix}id`] = envelope.id;
  if (envelope.type !== '') out[`${style.prefix}type`] = envelope.type;
  for (const name of Object.keys(envelope.headers)) {
    const value = envelope.headers[name]!;
    if (name === Header.contentType && style.contentTypeHeader !== undefined) {
      out[style.contentTypeHeader] = value;
    } else if (isCloudEventsAttributeName(name)) {
      out[style.prefix + name] = value;
    } else {
      out[name] = value;
    }
  }
  return out;
}

export interface DecodedBinding {
  readonly id: string | undefined;
  readonly type: string | undefined;
  readonly headers: Record<string, string>;
}

/** Broker headers → envelope parts; the inverse of {@link toBindingHeaders}. Unknown headers are kept. */
export function fromBindingHeaders(
  raw: Readonly<Record<string, string>>,
  style: BindingStyle,
): DecodedBinding {
  const prefixes = [style.prefix, ...(style.alsoRead ?? [])];
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  let id: string | undefined;
  let type: string | undefined;
  for (const name of Object.keys(raw)) {
    const value = raw[name]!;
    if (style.contentTypeHeader !== undefined && name.toLowerCase() === style.contentTypeHeader) {
      headers[Header.contentType] = value;
      continue;
    }
    const prefix = prefixes.find((p) => name.startsWith(p));
    const attribute = prefix === undefined ? undefined : name.slice(prefix.length);
    if (attribute !== undefined && isCloudEventsAttributeName(attribute)) {
      if (attribute === 'id') id = value;
      else if (attribute === 'type') type = value;
      else headers[attribute] = value;
    } else {
      headers[name] = value;
    }
  }
  return { id, type, headers };
}

/**
 * A structured-mode CloudEvent (`application/cloudevents+json`) from a foreign producer → envelope parts.
 * `data` is re-encoded as JSON; `data_base64` is decoded. Returns undefined when the JSON is not an event.
 */
export function fromStructuredCloudEvent(
  body: Uint8Array,
): { id: string; type: string; headers: Record<string, string>; body: Uint8Array } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const event = parsed as Record<string, unknown>;
  if (typeof event.id !== 'string' || typeof event.type !== 'string') return undefined;
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(event)) {
    if (name === 'id' || name === 'type' || name === 'data' || name === 'data_base64') continue;
    if (isCloudEventsAttributeName(name) && value !== null && value !== undefined) {
      headers[name] = typeof value === 'string' ? value : JSON.stringify(value);
    }
  }
  let data: Uint8Array;
  if (typeof event.data_base64 === 'string') {
    data = Buffer.from(event.data_base64, 'base64');
  } else {
    data = Buffer.from(JSON.stringify(event.data ?? null), 'utf8');
    headers[Header.contentType] ??= 'application/json';
  }
  return { id: event.id, type: event.type, headers, body: data };
}

/** Approximate wire size: body plus header names and values (UTF-16 length as a fast upper-bound proxy). */
export function envelopeSize(envelope: Envelope): number {
  let size =
    envelope.body.byteLength + envelope.id.length + envelope.type.length + (envelope.key?.length ?? 0);
  for (const name in envelope.headers) size += name.length + envelope.headers[name]!.length;
  return size;
}
