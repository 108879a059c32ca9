import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { ConfigurationError } from '@omnibus/core';
import { Refusal } from './registry-http-error.js';

/**
 * The checks a request passes before the registry reads its body. They exist because a browser on the
 * registry's machine is a client too: a web page can POST `text/plain` to `127.0.0.1:8081` without a
 * CORS preflight, and a DNS-rebinding page reaches it under its own host name.
 */

/**
 * Bodies must be JSON (`application/json`, Confluent's `application/vnd.schemaregistry.v1+json` or
 * `application/vnd.schemaregistry+json`, any `+json`): the content types a web page cannot send
 * cross-origin without a preflight. Anything else, or none, is refused with 415.
 */
export function assertJsonContentType(contentType: string | undefined): void {
  const essence = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (essence === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(essence)) return;
  throw Refusal.unsupportedMediaType(contentType);
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

/** Whether `host` (a name or address, as given to `listen`) only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/** `Host: name:port` → `name`, `[::1]:8081` → `::1`, lower-cased; undefined when there is none. */
export function hostName(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  const value = header.trim().toLowerCase();
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    return end === -1 ? undefined : value.slice(1, end);
  }
  const colon = value.indexOf(':');
  return colon === -1 ? value : value.slice(0, colon);
}

/**
 * Checks the `Host` header against an allow-list (names, without ports). IP literals always pass: DNS
 * rebinding needs a name the attacker controls. Names allowed by default: `localhost`, this machine's
 * host name and the listening host; `allowedHosts` adds more; `'any'` turns the check off (behind a
 * proxy that checks it).
 */
export function hostAllowList(
  allowedHosts: readonly string[] | 'any' | undefined,
  listenHost: string,
): (header: string | undefined) => void {
  if (allowedHosts === 'any') return () => undefined;
  if (allowedHosts !== undefined && (!Array.isArray(allowedHosts) || allowedHosts.length === 0)) {
    throw new ConfigurationError('allowedHosts', "must be a non-empty array of host names, or 'any'");
  }
  const names = new Set<string>([...LOOPBACK_NAMES, hostname().toLowerCase()]);
  const bound = hostName(
    listenHost.includes(':') && !listenHost.startsWith('[') ? `[${listenHost}]` : listenHost,
  );
  if (bound !== undefined && bound !== '0.0.0.0' && bound !== '::') names.add(bound);
  for (const name of allowedHosts ?? []) {
    if (typeof name !== 'string' || name === '') {
      throw new ConfigurationError('allowedHosts', 'must hold non-empty host names');
    }
    names.add(name.toLowerCase().replace(/^\[|\]$/g, ''));
  }
  return (header) => {
    const name = hostName(header);
    if (name === undefined || (isIP(name) === 0 && !names.has(name))) throw Refusal.hostNotAllowed(name);
  };
}

/**
 * Slows down guessing: each failed login from an address delays the 401 of the next one, doubling from
 * 100 ms to at most 5 s; a success clears it. Delays are per remote address and bounded in number, so the
 * table cannot grow without limit.
 */
export class FailedLogins {
  readonly #failures = new Map<string, number>();
  readonly #maxAddresses: number;

  constructor(maxAddresses = 10_000) {
    this.#maxAddresses = maxAddresses;
  }

  /** Records a failure from `address` and returns how long to wait before answering it. */
  failed(address: string): { failures: number; delayMs: number } {
    const failures = (this.#failures.get(address) ?? 0) + 1;
    this.#failures.delete(address);
    if (this.#failures.size >= this.#maxAddresses) {
      this.#failures.delete(this.#failures.keys().next().value!);
    }
    this.#failures.set(address, failures);
    return { failures, delayMs: failedLoginDelayMs(failures) };
  }

  succeeded(address: string): void {
    this.#failures.delete(address);
  }
}

export function failedLoginDelayMs(failures: number): number {
  return Math.min(5_000, 100 * 2 ** Math.min(failures - 1, 16));
}
