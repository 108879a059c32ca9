import type { Logger } from '@omnibus/core';
import { ConfigurationError, defaultLogger } from '@omnibus/core';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** TLS material (PEM file paths, as `@nats-io/transport-node` reads them). */
export interface NatsTlsOptions {
  /** Certificate authorities to trust instead of Node's default set. */
  readonly caFile?: string;
  /** Client certificate, for mutual TLS (with `keyFile`). */
  readonly certFile?: string;
  /** Client private key, for mutual TLS (with `certFile`). */
  readonly keyFile?: string;
}

/** One way to authenticate; NATS accepts exactly one per connection. */
export type NatsAuthOptions =
  | { readonly token: string }
  | { readonly user: string; readonly pass: string }
  /** An NKey seed (`SU…`), for servers configured with the user's public NKey. */
  | { readonly nkeySeed: string }
  /** The contents of a `.creds` file (JWT plus NKey seed), for operator/JWT-secured servers. */
  | { readonly creds: string };

export interface NatsTransportOptions {
  /** One server URL or several (`nats://`, `tls://`). Default `nats://127.0.0.1:4222`. */
  readonly servers?: string | readonly string[];
  readonly auth?: NatsAuthOptions;
  /** TLS; `true` for TLS with Node's default trust store. */
  readonly tls?: NatsTlsOptions | true;
  /**
   * First token of every subject and prefix of every stream name the transport makes, so several
   * environments can share one account. Letters, digits, `-` and `_`. Default `omnibus`.
   */
  readonly namePrefix?: string;
  /**
   * Deliveries of one message after which the consumer dead-letters it with code `MAX_DELIVERIES_EXCEEDED`
   * instead of handing it out again: the guard against a message that kills its consumer every time.
   * Default 20.
   */
  readonly deliveryLimit?: number;
  /** How long JetStream waits for a settlement before it redelivers. Default 30,000 ms. */
  readonly ackWaitMs?: number;
  /** Unacknowledged messages JetStream hands out per durable consumer (`max_ack_pending`). Default 1,000. */
  readonly maxAckPending?: number;
  /** The streams' duplicate window: a second publish of one id within it is dropped. Default 120,000 ms. */
  readonly duplicateWindowMs?: number;
  /**
   * Largest envelope `publish` accepts, in bytes. Default 1 MiB less 16 KiB for headers (the server's
   * default `max_payload` is 1 MiB and counts headers too).
   */
  readonly maxMessageBytes?: number;
  /** How long a publish waits for JetStream's ack. Default 10,000 ms. */
  readonly publishTimeoutMs?: number;
  /** Attempts of the first `connect()` before it fails (2 s apart). Default 5. */
  readonly connectAttempts?: number;
  /** Connection name shown in the server's monitoring. Default `omnibus`. */
  readonly connectionName?: string;
  readonly logger?: Logger;
}

export interface ResolvedNatsOptions {
  readonly servers: readonly string[];
  readonly auth: NatsAuthOptions | undefined;
  readonly tls: NatsTlsOptions | true | undefined;
  readonly namePrefix: string;
  readonly deliveryLimit: number;
  readonly ackWaitMs: number;
  readonly maxAckPending: number;
  readonly duplicateWindowMs: number;
  readonly maxMessageBytes: number;
  readonly publishTimeoutMs: number;
  readonly connectAttempts: number;
  readonly connectionName: string;
  readonly logger: Logger;
}

const NAME = /^[A-Za-z0-9_-]{1,32}$/;
const SERVER = /^(nats|tls|ws|wss):\/\/[^\s]+$|^[^\s:/]+(:\d+)?$/;

/** Validates every field at construction; a `ConfigurationError` names the field. */
export function resolveNatsOptions(options: NatsTransportOptions): ResolvedNatsOptions {
  const given = options.servers ?? DEFAULT_NATS_URL;
  const servers = typeof given === 'string' ? [given] : [...given];
  if (servers.length === 0 || !servers.every((s) => typeof s === 'string' && SERVER.test(s))) {
    throw new ConfigurationError('servers', 'must be one or more nats:// or tls:// URLs (or host:port)');
  }
  const auth = options.auth;
  if (auth !== undefined) checkAuth(auth);
  const tls = options.tls;
  if (tls !== undefined && tls !== true && (typeof tls !== 'object' || tls === null)) {
    throw new ConfigurationError('tls', 'must be true or { caFile?, certFile?, keyFile? }');
  }
  if (typeof tls === 'object' && (tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new ConfigurationError('tls', 'certFile and keyFile go together');
  }
  const namePrefix = options.namePrefix ?? 'omnibus';
  if (typeof namePrefix !== 'string' || !NAME.test(namePrefix)) {
    throw new ConfigurationError('namePrefix', 'must be 1-32 letters, digits, - or _');
  }
  const logger = options.logger ?? defaultLogger();
  if (typeof logger?.error !== 'function') throw new ConfigurationError('logger', 'must be a Logger');
  const connectionName = options.connectionName ?? 'omnibus';
  if (typeof connectionName !== 'string' || connectionName.length === 0) {
    throw new ConfigurationError('connectionName', 'must be a non-empty string');
  }
  return {
    servers,
    auth,
    tls,
    namePrefix,
    deliveryLimit: positiveInteger('deliveryLimit', options.deliveryLimit, 20),
    ackWaitMs: positiveInteger('ackWaitMs', options.ackWaitMs, 30_000, 1_000),
    maxAckPending: positiveInteger('maxAckPending', options.maxAckPending, 1_000),
    duplicateWindowMs: positiveInteger('duplicateWindowMs', options.duplicateWindowMs, 120_000, 100),
    maxMessageBytes: positiveInteger('maxMessageBytes', options.maxMessageBytes, 1024 * 1024 - 16 * 1024),
    publishTimeoutMs: positiveInteger('publishTimeoutMs', options.publishTimeoutMs, 10_000),
    connectAttempts: positiveInteger('connectAttempts', options.connectAttempts, 5),
    connectionName,
    logger,
  };
}

function positiveInteger(field: string, value: number | undefined, fallback: number, min = 1): number {
  const n = value ?? fallback;
  if (!(Number.isSafeInteger(n) && n >= min)) {
    throw new ConfigurationError(field, `must be an integer >= ${min}, got ${String(value)}`);
  }
  return n;
}

function checkAuth(auth: NatsAuthOptions): void {
  const fields = Object.keys(auth).sort().join(',');
  const nonEmpty = (value: unknown) => typeof value === 'string' && value.length > 0;
  const ok =
    (fields === 'token' && nonEmpty((auth as { token: unknown }).token)) ||
    (fields === 'pass,user' && nonEmpty((auth as { user: unknown }).user)) ||
    (fields === 'nkeySeed' && nonEmpty((auth as { nkeySeed: unknown }).nkeySeed)) ||
    (fields === 'creds' && nonEmpty((auth as { creds: unknown }).creds));
  if (!ok) {
    throw new ConfigurationError(
      'auth',
      'must be exactly one of { token }, { user, pass }, { nkeySeed }, { creds }',
    );
  }
}
