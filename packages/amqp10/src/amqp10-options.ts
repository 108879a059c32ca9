import type { Logger, SigningKeys, SigningOptions } from '@omnibus/core';
import { ConfigurationError, signingKeys, defaultLogger } from '@omnibus/core';

/** TLS material for `amqps://` connections (PEM strings or buffers). */
export interface Amqp10TlsOptions {
  /** Certificate authorities to trust instead of Node's default set. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate, for mutual TLS (with `key`). */
  readonly cert?: string | Buffer;
  /** Client private key, for mutual TLS (with `cert`). */
  readonly key?: string | Buffer;
  /** Host name the server certificate must name, when it differs from the url's. */
  readonly servername?: string;
}

export interface Amqp10TransportOptions {
  /**
   * `amqp://user:pass@host:port` or `amqps://…` (TLS). User and password, when given, log in with SASL
   * PLAIN. Default: `OMNIBUS_AMQP10_URL`, else `amqp://omnibus:omnibus@127.0.0.1:5673` (the broker lab).
   */
  readonly url?: string;
  /** TLS options; needs an `amqps://` url. */
  readonly tls?: Amqp10TlsOptions;
  /**
   * Prepended to every address and queue name, e.g. `staging.`, so several environments share a broker.
   * Default: none.
   */
  readonly namePrefix?: string;
  /** Largest envelope `publish` accepts, in bytes. Default 10 MiB. */
  readonly maxMessageBytes?: number;
  /** Cap on the delay between reconnect attempts (they start at 100 ms and double). Default 5,000 ms. */
  readonly maxReconnectDelayMs?: number;
  /** AMQP container id; shown by the broker for the connection. Default `omnibus-<random>`. */
  readonly containerId?: string;
  /**
   * Deliveries of one message that end without a settlement (its consumer crashed, hung or lost the
   * connection) before the consumer dead-letters it itself, code `MAX_DELIVERIES_EXCEEDED`, without handing it to a
   * handler. Keep it below the broker's own limit (Artemis's `max-delivery-attempts`, 10 by default), so
   * that such a message reaches our dead-letter queue with the reason, not the broker's `DLQ`. Default 5.
   */
  readonly deliveryLimit?: number;
  readonly logger?: Logger;
  /**
   * The keys of the bus's `signing`: retry copies then carry a sealed attempt count, and only a sealed
   * count is believed, so no producer can make a message skip its retry budget. Without it the
   * `omnibus-attempt` property is believed from anyone who can send to the queue.
   */
  readonly signing?: SigningOptions;
}

export interface ResolvedAmqp10Options {
  readonly url: URL;
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: Amqp10TlsOptions | undefined;
  readonly namePrefix: string;
  readonly maxMessageBytes: number;
  readonly maxReconnectDelayMs: number;
  readonly containerId: string;
  readonly deliveryLimit: number;
  readonly logger: Logger;
  readonly signing: SigningKeys | undefined;
}

export const DEFAULT_AMQP10_URL = 'amqp://omnibus:omnibus@127.0.0.1:5673';

/** Validates and completes the options; a `ConfigurationError` names the bad field. */
export function resolveAmqp10Options(options: Amqp10TransportOptions): ResolvedAmqp10Options {
  const raw = options.url ?? process.env.OMNIBUS_AMQP10_URL ?? DEFAULT_AMQP10_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigurationError('url', `is not a URL: ${redact(raw)}`);
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') {
    throw new ConfigurationError('url', `must start with amqp:// or amqps://, got ${url.protocol}//`);
  }
  const secure = url.protocol === 'amqps:';
  if (options.tls !== undefined && !secure) {
    throw new ConfigurationError('tls', 'needs an amqps:// url');
  }
  const port = url.port === '' ? (secure ? 5671 : 5672) : Number(url.port);
  const maxMessageBytes = options.maxMessageBytes ?? 10 * 1024 * 1024;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1024) {
    throw new ConfigurationError(
      'maxMessageBytes',
      `must be an integer of at least 1024, got ${maxMessageBytes}`,
    );
  }
  const maxReconnectDelayMs = options.maxReconnectDelayMs ?? 5_000;
  if (!Number.isFinite(maxReconnectDelayMs) || maxReconnectDelayMs < 100) {
    throw new ConfigurationError('maxReconnectDelayMs', `must be at least 100, got ${maxReconnectDelayMs}`);
  }
  const deliveryLimit = options.deliveryLimit ?? 5;
  if (!Number.isSafeInteger(deliveryLimit) || deliveryLimit < 1) {
    throw new ConfigurationError('deliveryLimit', `must be a positive integer, got ${String(deliveryLimit)}`);
  }
  const namePrefix = options.namePrefix ?? '';
  if (/[\s:]/.test(namePrefix)) {
    throw new ConfigurationError(
      'namePrefix',
      'must not contain spaces or colons (":" separates queue names)',
    );
  }
  return {
    url,
    host: url.hostname === '' ? '127.0.0.1' : url.hostname,
    port,
    secure,
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    tls: options.tls,
    namePrefix,
    maxMessageBytes,
    maxReconnectDelayMs,
    containerId: options.containerId ?? `omnibus-${Math.random().toString(36).slice(2, 10)}`,
    deliveryLimit,
    logger: options.logger ?? defaultLogger(),
    signing: options.signing === undefined ? undefined : signingKeys(options.signing),
  };
}

/** The url without its password, for logs and health details. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}
