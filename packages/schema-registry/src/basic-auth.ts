import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigurationError } from '@omnibus/core';

export interface BasicAuthCredentials {
  readonly username: string;
  readonly password: string;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** A check of `Authorization` headers against one user, in constant time. */
export function basicAuthorizer(credentials: BasicAuthCredentials): (header: string | undefined) => boolean {
  if (credentials === null || typeof credentials !== 'object') {
    throw new ConfigurationError('auth', 'must be { username, password }');
  }
  if (
    typeof credentials.username !== 'string' ||
    credentials.username === '' ||
    credentials.username.includes(':')
  ) {
    throw new ConfigurationError('auth.username', "must be a non-empty string without ':'");
  }
  if (typeof credentials.password !== 'string' || credentials.password === '') {
    throw new ConfigurationError('auth.password', 'must be a non-empty string');
  }
  // Comparing digests keeps the comparison constant-time whatever the lengths.
  const expected = digest(`${credentials.username}:${credentials.password}`);
  return (header) => {
    const match = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (match === null) return false;
    return timingSafeEqual(digest(Buffer.from(match[1]!, 'base64').toString('utf8')), expected);
  };
}
