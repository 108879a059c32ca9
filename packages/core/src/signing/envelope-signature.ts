import { createHash, createHmac, timingSafeEqual, type Hmac } from 'node:crypto';
import { Header, isCloudEventsAttributeName, type Envelope } from '../envelope.js';
import { SignatureError } from './signature-error.js';
import type { SigningKeys } from './signing-options.js';

/** The signature (base64url HMAC-SHA256) and the id of the key that made it. */
export const SignatureHeader = {
  signature: 'omnibus-signature',
  keyId: 'omnibus-signature-key',
  /** On a replayed event: `<key id>:<seal>` over the message, `omnibus-target-group` and the replay id. */
  targetSeal: 'omnibus-target-seal',
} as const;

/**
 * Attributes left out of the signature: W3C trace context, which each hop may rewrite. Everything else
 * named like a CloudEvents attribute is signed; headers with a `-` in the name (ours, such as
 * `omnibus-attempt` and the `omnibus-error-*` of a dead letter, and custom ones like `x-tenant`) are not,
 * so retry and dead-letter routes, which only add or drop those, keep a signature valid.
 */
const UNSIGNED_ATTRIBUTES = new Set<string>([Header.traceParent, Header.traceState]);

/** Feeds one field, length-prefixed so that no two different inputs feed the same bytes. */
function field(hmac: Hmac, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  hmac.update(`${bytes.byteLength}:`);
  hmac.update(bytes);
}

function bodyDigest(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

function signatureOf(envelope: Envelope, secret: Uint8Array): string {
  const hmac = createHmac('sha256', secret);
  field(hmac, 'omnibus-signature-v1');
  field(hmac, envelope.id);
  field(hmac, envelope.type);
  field(hmac, envelope.key === undefined ? '' : `k${envelope.key}`);
  const names = Object.keys(envelope.headers)
    .filter((name) => isCloudEventsAttributeName(name) && !UNSIGNED_ATTRIBUTES.has(name))
    .sort();
  field(hmac, String(names.length));
  for (const name of names) {
    field(hmac, name);
    field(hmac, envelope.headers[name]!);
  }
  field(hmac, bodyDigest(envelope.body));
  return hmac.digest('base64url');
}

function sealOf(envelope: Envelope, target: string, replayId: string, secret: Uint8Array): string {
  const hmac = createHmac('sha256', secret);
  field(hmac, 'omnibus-target-v1');
  field(hmac, envelope.id);
  field(hmac, envelope.type);
  field(hmac, target);
  field(hmac, replayId);
  field(hmac, bodyDigest(envelope.body));
  return hmac.digest('base64url');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.byteLength === y.byteLength && timingSafeEqual(x, y);
}

/** The envelope with its signature headers (any earlier ones replaced), signed with `keys.signWith`. */
export function signEnvelope(envelope: Envelope, keys: SigningKeys): Envelope {
  const secret = keys.keys.get(keys.signWith)!;
  const headers: Record<string, string> = Object.assign(
    Object.create(null) as Record<string, string>,
    envelope.headers,
  );
  headers[SignatureHeader.signature] = signatureOf(envelope, secret);
  headers[SignatureHeader.keyId] = keys.signWith;
  return { ...envelope, headers };
}

/**
 * Checks an envelope's signature: undefined when it verifies (or it is unsigned and signing is not
 * required), else the `SignatureError` to dead-letter it with.
 */
export function verifyEnvelope(envelope: Envelope, keys: SigningKeys): SignatureError | undefined {
  const signature = envelope.headers[SignatureHeader.signature];
  const keyId = envelope.headers[SignatureHeader.keyId];
  if (signature === undefined && keyId === undefined) {
    return keys.required ? new SignatureError('message is not signed', 'SIGNATURE_MISSING') : undefined;
  }
  if (signature === undefined || keyId === undefined) {
    return new SignatureError(
      `message has ${signature === undefined ? `${SignatureHeader.keyId} but no ${SignatureHeader.signature}` : `${SignatureHeader.signature} but no ${SignatureHeader.keyId}`}`,
      'SIGNATURE_INVALID',
    );
  }
  const secret = keys.keys.get(keyId);
  if (secret === undefined) {
    return new SignatureError(
      `message is signed with key ${JSON.stringify(keyId.slice(0, 64))}, which this service does not have`,
      'SIGNATURE_KEY_UNKNOWN',
    );
  }
  if (!same(signature, signatureOf(envelope, secret))) {
    return new SignatureError(`signature does not match the message (key ${keyId})`, 'SIGNATURE_INVALID');
  }
  return undefined;
}

/** Headers that address a replayed event to `target` alone, sealed so that no producer can forge them. */
export function sealTarget(
  envelope: Envelope,
  target: string,
  replayId: string,
  keys: SigningKeys,
): Record<string, string> {
  const seal = sealOf(envelope, target, replayId, keys.keys.get(keys.signWith)!);
  return {
    [Header.targetGroup]: target,
    [Header.replayId]: replayId,
    [SignatureHeader.targetSeal]: `${keys.signWith}:${seal}`,
  };
}

/**
 * The group a replayed event is addressed to, when its seal verifies with one of `keys`; undefined when
 * it has no target, no seal or a seal that does not verify (then every group handles it).
 */
export function sealedTarget(envelope: Envelope, keys: SigningKeys | undefined): string | undefined {
  const target = envelope.headers[Header.targetGroup];
  if (target === undefined || keys === undefined) return undefined;
  const sealed = envelope.headers[SignatureHeader.targetSeal];
  const replayId = envelope.headers[Header.replayId];
  if (sealed === undefined || replayId === undefined) return undefined;
  const colon = sealed.indexOf(':');
  const secret = colon > 0 ? keys.keys.get(sealed.slice(0, colon)) : undefined;
  if (secret === undefined) return undefined;
  return same(sealed.slice(colon + 1), sealOf(envelope, target, replayId, secret)) ? target : undefined;
}
