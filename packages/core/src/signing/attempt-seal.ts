import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SigningKeys } from './signing-options.js';

/**
 * On a retry copy (RabbitMQ, AMQP 1.0): `<key id>:<seal>` over the message id, the queue it was copied
 * back to and its attempt number. Drivers that carry the attempt count in a header believe it only
 * with a seal made with their keys, so a producer cannot make a message skip its retry budget.
 */
export const ATTEMPT_SEAL_HEADER = 'omnibus-attempt-seal';

function sealOf(id: string, queue: string, attempt: number, secret: Uint8Array): string {
  const hmac = createHmac('sha256', secret);
  for (const part of ['omnibus-attempt-v1', id, queue, String(attempt)]) {
    const bytes = Buffer.from(part, 'utf8');
    hmac.update(`${bytes.byteLength}:`);
    hmac.update(bytes);
  }
  return hmac.digest('base64url');
}

/** The seal of attempt `attempt` of message `id` copied back to `queue`. */
export function sealAttempt(id: string, queue: string, attempt: number, keys: SigningKeys): string {
  return `${keys.signWith}:${sealOf(id, queue, attempt, keys.keys.get(keys.signWith)!)}`;
}

/** Whether `seal` is the seal of that attempt under one of `keys`. */
export function attemptSealValid(
  id: string,
  queue: string,
  attempt: number,
  seal: string | undefined,
  keys: SigningKeys,
): boolean {
  if (seal === undefined) return false;
  const colon = seal.indexOf(':');
  const secret = colon > 0 ? keys.keys.get(seal.slice(0, colon)) : undefined;
  if (secret === undefined) return false;
  const expected = Buffer.from(sealOf(id, queue, attempt, secret));
  const given = Buffer.from(seal.slice(colon + 1));
  return expected.byteLength === given.byteLength && timingSafeEqual(expected, given);
}
