import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { Options, SocketOptions } from 'amqplib';
import type { Logger, SigningKeys, SigningOptions } from '@omnibus/core';
import { ConfigurationError, signingKeys, defaultLogger } from '@omnibus/core';

/** TLS material for `amqps://` connections (PEM strings or buffers). */
export interface RabbitMqTlsOptions {
  /** Certificate authorities to trust instead of Node's default set. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate, for mutual TLS (with `key`). */
  readonly cert?: string | Buffer;
  /** Client private key, for mutual TLS (with `cert`). */
  readonly key?: string | Buffer;
}

export interface RabbitMqReconnectOptions {
  /** Delay before the first reconnect attempt. Default 100 ms. */
  readonly initialMs?: number;
  /** Cap on the delay between attempts. Default 5,000 ms. */
  readonly maxMs?: number;
}

export interface RabbitMqTransportOptions {
  /**
   * `amqp://user:pass@host:port/vhost` or `amqps://…`. Default: `OMNIBUS_RABBITMQ_URL`, else
   * `amqp://guest:guest@127.0.0.1:5672`.
   */
  readonly url?: string;
  /** Virtual host; overrides the one in `url`. Default: the url's, else `/`. */
  readonly vhost?: string;
  /** TLS options; needs an `amqps://` url. */
  readonly tls?: RabbitMqTlsOptions;
  /** AMQP heartbeat in seconds; 0 turns heartbeats off. Default: the broker's suggestion (60 s). */
  readonly heartbeatSeconds?: number;
  /**
   * Prepended to every exchange and queue name the transport declares, e.g. `staging.` — several
   * environments can share one vhost. Default: none.
   */
  readonly namePrefix?: string;
  /** Backoff between reconnect attempts (exponential with full jitter). */
  readonly reconnect?: RabbitMqReconnectOptions;
  /** Attempts of the first `connect()` before it fails. Default 5. */
  readonly connectAttempts?: number;
  /**
   * Largest envelope `publish` accepts, in bytes. Default 16 MiB (RabbitMQ 4's `max_message_size`;
   * 3.x allows 128 MiB). Set it to the broker's `max_message_size` when that is lower.
   */
  readonly maxMessageBytes?: number;
  /**
   * Deliveries of one message after which RabbitMQ dead-letters it to `<queue>.dlq` by itself: the guard
   * against a message that kills its consumer every time (crash, OOM), which never reaches the bus's retry
   * policy. Only deliveries that ended without settlement count (retries republish a fresh copy). Fixed
   * when a queue is created (a queue argument). Default 20, RabbitMQ 4's own default.
   */
  readonly deliveryLimit?: number;
  /** Name shown for the connection in the management UI. Default `omnibus`. */
  readonly connectionName?: string;
  readonly logger?: Logger;
  /**
   * The keys of the bus's `signing`: retry copies then carry a sealed attempt count, and only a sealed
   * count is believed, so no producer can make a message skip its retry budget. Without it, an attempt
   * count is believed only on a message that came straight to its queue, never through a channel.
   */
  readonly signing?: SigningOptions;
}

/** Options after validation, with defaults applied. */
export interface ResolvedRabbitMqOptions {
  readonly url: URL;
  readonly vhost: string;
  readonly tls: RabbitMqTlsOptions | undefined;
  readonly heartbeatSeconds: number | undefined;
  readonly namePrefix: string;
  readonly reconnect: Required<RabbitMqReconnectOptions>;
  readonly connectAttempts: number;
  readonly maxMessageBytes: number;
  readonly deliveryLimit: number;
  readonly connectionName: string;
  readonly logger: Logger;
  readonly signing: SigningKeys | undefined;
}

export const DEFAULT_RABBITMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';
const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** RabbitMQ's limit on queue and exchange names (a short string). */
export const MAX_NAME_BYTES = 255;
/** Room left after the prefix for a name and its longest suffix (`.delay.4294967296`). */
const LONGEST_SUFFIX = '.delay.4294967296'.length;

/**
 * Checks every option and applies the defaults; a bad option throws a `ConfigurationError` naming it.
 * Nothing is contacted here: the broker is reached on `connect()`.
 */
export function resolveRabbitMqOptions(options: RabbitMqTransportOptions = {}): ResolvedRabbitMqOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('options', 'must be an object');
  }
  const url = parseUrl(options.url ?? process.env.OMNIBUS_RABBITMQ_URL ?? DEFAULT_RABBITMQ_URL);

  let vhost: string;
  if (options.vhost !== undefined) {
    if (typeof options.vhost !== 'string' || options.vhost.length === 0) {
      throw new ConfigurationError('vhost', 'must be a non-empty string');
    }
    vhost = options.vhost;
  } else {
    vhost = vhostOf(url);
  }

  if (options.tls !== undefined) {
    if (options.tls === null || typeof options.tls !== 'object') {
      throw new ConfigurationError('tls', 'must be an object with ca, cert and/or key');
    }
    if (url.protocol !== 'amqps:') throw new ConfigurationError('tls', 'needs an amqps:// url');
    const { ca, cert, key } = options.tls;
    if (ca !== undefined && !(isPem(ca) || (Array.isArray(ca) && ca.length > 0 && ca.every(isPem)))) {
      throw new ConfigurationError('tls.ca', 'must be a PEM string or Buffer, or a non-empty array of them');
    }
    if (cert !== undefined && !isPem(cert))
      throw new ConfigurationError('tls.cert', 'must be a string or Buffer');
    if (key !== undefined && !isPem(key))
      throw new ConfigurationError('tls.key', 'must be a string or Buffer');
    if ((cert === undefined) !== (key === undefined)) {
      throw new ConfigurationError(cert === undefined ? 'tls.cert' : 'tls.key', 'cert and key go together');
    }
  }

  const heartbeatSeconds = options.heartbeatSeconds;
  if (heartbeatSeconds !== undefined && !(Number.isInteger(heartbeatSeconds) && heartbeatSeconds >= 0)) {
    throw new ConfigurationError(
      'heartbeatSeconds',
      `must be a non-negative integer, got ${String(heartbeatSeconds)}`,
    );
  }

  const namePrefix = options.namePrefix ?? '';
  if (typeof namePrefix !== 'string' || namePrefix.startsWith('amq.')) {
    throw new ConfigurationError(
      'namePrefix',
      "must be a string not starting with 'amq.' (reserved by RabbitMQ)",
    );
  }
  if (Buffer.byteLength(namePrefix) > MAX_NAME_BYTES - LONGEST_SUFFIX - 1) {
    throw new ConfigurationError('namePrefix', `leaves no room for names within ${MAX_NAME_BYTES} bytes`);
  }

  const initialMs = options.reconnect?.initialMs ?? 100;
  const maxMs = options.reconnect?.maxMs ?? 5_000;
  if (!(Number.isFinite(initialMs) && initialMs > 0)) {
    throw new ConfigurationError('reconnect.initialMs', `must be > 0, got ${String(initialMs)}`);
  }
  if (!(Number.isFinite(maxMs) && maxMs >= initialMs)) {
    throw new ConfigurationError('reconnect.maxMs', `must be >= reconnect.initialMs, got ${String(maxMs)}`);
  }

  const connectAttempts = options.connectAttempts ?? 5;
  if (!(Number.isInteger(connectAttempts) && connectAttempts >= 1)) {
    throw new ConfigurationError(
      'connectAttempts',
      `must be a positive integer, got ${String(connectAttempts)}`,
    );
  }

  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!(Number.isInteger(maxMessageBytes) && maxMessageBytes >= 1)) {
    throw new ConfigurationError(
      'maxMessageBytes',
      `must be a positive integer, got ${String(maxMessageBytes)}`,
    );
  }

  const deliveryLimit = options.deliveryLimit ?? 20;
  if (!(Number.isInteger(deliveryLimit) && deliveryLimit >= 1)) {
    throw new ConfigurationError('deliveryLimit', `must be a positive integer, got ${String(deliveryLimit)}`);
  }

  const connectionName = options.connectionName ?? 'omnibus';
  if (typeof connectionName !== 'string' || connectionName.length === 0) {
    throw new ConfigurationError('connectionName', 'must be a non-empty string');
  }

  const logger = options.logger ?? defaultLogger();
  if (typeof logger?.error !== 'function') throw new ConfigurationError('logger', 'must be a Logger');

  return {
    url,
    vhost,
    tls: options.tls,
    heartbeatSeconds,
    namePrefix,
    reconnect: { initialMs, maxMs },
    connectAttempts,
    maxMessageBytes,
    deliveryLimit,
    connectionName,
    logger,
    signing: options.signing === undefined ? undefined : signingKeys(options.signing),
  };
}

function parseUrl(text: unknown): URL {
  if (typeof text !== 'string' || text.length === 0) {
    throw new ConfigurationError('url', 'must be an amqp:// or amqps:// url');
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigurationError('url', `is not a url: ${redact(text)}`);
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') {
    throw new ConfigurationError('url', `must use amqp:// or amqps://, got ${url.protocol}//`);
  }
  if (url.hostname.length === 0) throw new ConfigurationError('url', 'has no host');
  return url;
}

/** The AMQP URI spec: no path is the default vhost `/`; a path is the url-decoded vhost (`%2f` for `/`). */
function vhostOf(url: URL): string {
  if (url.pathname === '' || url.pathname === '/') return '/';
  const raw = url.pathname.slice(1);
  if (raw.includes('/')) throw new ConfigurationError('url', "has a vhost with an unescaped '/' (write %2f)");
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ConfigurationError('url', 'has a vhost that is not valid percent-encoding');
  }
}

function isPem(value: unknown): boolean {
  return (typeof value === 'string' && value.length > 0) || Buffer.isBuffer(value);
}

/**
 * A url without its password, for error messages and logs. Parsed, so a password holding `/`, `@` or
 * `:` (percent-encoded or not) is hidden whole; text that is not a url loses everything between `//`
 * and its last `@`, since where the userinfo ends cannot be known.
 */
export function redact(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // not a url: handled below
  }
  // `amqp://user:12/3@host` parses as host `user`, port 12 and a path holding the rest of the password.
  if (url?.username === '' && url.password === '' && text.includes('@')) url = undefined;
  if (url === undefined) return text.replace(/\/\/.*@/s, '//***@');
  if (url.password === '') return url.href;
  url.password = '***';
  return url.href;
}

/** What amqplib's `connect` takes: the server and credentials, and the socket (TLS) options. */
export function connectArguments(options: ResolvedRabbitMqOptions): {
  server: Options.Connect;
  socket: SocketOptions;
} {
  const { url } = options;
  const hasCredentials = url.username !== '' || url.password !== '';
  const server: Options.Connect = {
    protocol: url.protocol.slice(0, -1),
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? (url.protocol === 'amqps:' ? 5671 : 5672) : Number(url.port),
    username: hasCredentials ? decodeURIComponent(url.username) : 'guest',
    password: hasCredentials ? decodeURIComponent(url.password) : 'guest',
    // amqplib unescapes the vhost once more; escaping it here makes that a no-op for any name.
    vhost: encodeURIComponent(options.vhost),
    ...(options.heartbeatSeconds === undefined ? {} : { heartbeat: options.heartbeatSeconds }),
  };
  const tls: TlsConnectionOptions = {};
  if (options.tls?.ca !== undefined) tls.ca = options.tls.ca as TlsConnectionOptions['ca'];
  if (options.tls?.cert !== undefined) tls.cert = options.tls.cert;
  if (options.tls?.key !== undefined) tls.key = options.tls.key;
  const socket: SocketOptions = {
    ...tls,
    timeout: 10_000,
    // Nagle off: a lone frame (a request, a reply) must not wait for the peer's delayed ACK (~40 ms).
    noDelay: true,
    clientProperties: { connection_name: options.connectionName },
  };
  return { server, socket };
}
