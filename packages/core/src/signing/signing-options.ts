import { ConfigurationError } from '../errors.js';

/**
 * Envelope signing (HMAC-SHA256). `keys` maps a key id to its secret (at least 32 bytes); the publisher
 * signs with `signWith` and names it in the `omnibus-signature-key` header, and a consumer verifies with
 * whichever of `keys` the message names, so keys rotate by adding the new one everywhere first, then
 * switching `signWith`, then removing the old one.
 */
export interface SigningOptions {
  readonly keys: Readonly<Record<string, string | Uint8Array>>;
  /** The key id new messages are signed with. */
  readonly signWith: string;
  /**
   * Whether an unsigned message is refused (dead-lettered with `SIGNATURE_MISSING`). Default true. A
   * message with a signature that does not verify is refused either way.
   */
  readonly required?: boolean;
}

/** The validated form: secrets as bytes. */
export interface SigningKeys {
  readonly keys: ReadonlyMap<string, Uint8Array>;
  readonly signWith: string;
  readonly required: boolean;
}

const MIN_KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Checks `options` (naming the field at fault) and turns the secrets into bytes. */
export function signingKeys(options: SigningOptions, field = 'signing'): SigningKeys {
  if (options === null || typeof options !== 'object')
    throw new ConfigurationError(field, 'must be an object');
  if (options.keys === null || typeof options.keys !== 'object') {
    throw new ConfigurationError(`${field}.keys`, 'must map key ids to secrets');
  }
  const keys = new Map<string, Uint8Array>();
  for (const id of Object.keys(options.keys)) {
    if (!KEY_ID.test(id)) {
      throw new ConfigurationError(
        `${field}.keys.${id}`,
        'a key id is 1-64 letters, digits, ".", "_" or "-"',
      );
    }
    const secret = options.keys[id];
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
    if (!(bytes instanceof Uint8Array) || bytes.byteLength < MIN_KEY_BYTES) {
      throw new ConfigurationError(`${field}.keys.${id}`, `must be at least ${MIN_KEY_BYTES} bytes`);
    }
    keys.set(id, bytes);
  }
  if (typeof options.signWith !== 'string' || !keys.has(options.signWith)) {
    throw new ConfigurationError(`${field}.signWith`, 'must name one of signing.keys');
  }
  if (options.required !== undefined && typeof options.required !== 'boolean') {
    throw new ConfigurationError(`${field}.required`, 'must be a boolean');
  }
  return { keys, signWith: options.signWith, required: options.required ?? true };
}
