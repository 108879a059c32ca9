import type { Logger } from '@omnibus/core';
import { ConfigurationError, defaultLogger } from '@omnibus/core';

/** Static AWS credentials (tests, moto, LocalStack). Without them the SDK's default provider chain is used. */
export interface StaticCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SqsSnsTransportOptions {
  /** AWS region, e.g. `eu-west-1`. Default: the SDK's chain (`AWS_REGION`, the profile's region). */
  readonly region?: string;
  /** One endpoint for both SQS and SNS, e.g. moto or LocalStack at `http://127.0.0.1:4566`. Default: AWS. */
  readonly endpoint?: string;
  /** Default: the SDK's default provider chain (environment, profile, SSO, web identity, ECS/EC2 roles). */
  readonly credentials?: StaticCredentials;
  /** Put before every topic and queue name (`prod-`, `team_a-`): letters, digits, `-`, `_`. Default ''. */
  readonly namePrefix?: string;
  /**
   * Make every channel and queue FIFO, not only those provisioned with `ordered: true`. Per-key order
   * and 5-minute deduplication everywhere, at FIFO throughput. Default false.
   */
  readonly fifo?: boolean;
  /**
   * Seconds a received message stays hidden from other consumers (SQS visibility timeout). A heartbeat
   * extends it while the message is unsettled, so this bounds how soon a crashed consumer's messages
   * come back, not how long a handler may run. 1–43,200. Default 30.
   */
  readonly visibilityTimeoutSeconds?: number;
  /** Long-poll wait of each `ReceiveMessage`, 1–20 s. Default 20. */
  readonly waitTimeSeconds?: number;
  /**
   * The redrive policy's `maxReceiveCount` for queues whose topology gives no `maxDeliveries`: after this
   * many receives without settlement, SQS moves a message to the dead-letter queue. 1–1,000. Default 10.
   */
  readonly maxDeliveries?: number;
  readonly logger?: Logger;
}

/** The options with defaults applied; built once, at construction. */
export interface ResolvedOptions {
  readonly region: string | undefined;
  readonly endpoint: string | undefined;
  readonly credentials: StaticCredentials | undefined;
  readonly namePrefix: string;
  readonly fifo: boolean;
  readonly visibilityTimeoutSeconds: number;
  readonly waitTimeSeconds: number;
  readonly maxDeliveries: number;
  readonly logger: Logger;
}

/** Region names: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`... */
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const PREFIX = /^[A-Za-z0-9_-]{0,40}$/;

/** Validates `options`, naming the offending field in a `ConfigurationError`, and applies the defaults. */
export function resolveOptions(options: SqsSnsTransportOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('options', 'must be an object');
  }
  if (options.region !== undefined && (typeof options.region !== 'string' || !REGION.test(options.region))) {
    throw new ConfigurationError(
      'region',
      `must be an AWS region name like 'eu-west-1', got '${String(options.region)}'`,
    );
  }
  if (options.endpoint !== undefined) validateEndpoint(options.endpoint);
  if (options.credentials !== undefined) validateCredentials(options.credentials);
  const namePrefix = options.namePrefix ?? '';
  if (typeof namePrefix !== 'string' || !PREFIX.test(namePrefix)) {
    throw new ConfigurationError(
      'namePrefix',
      `must be at most 40 letters, digits, '-' or '_' (AWS name rules), got '${String(namePrefix)}'`,
    );
  }
  if (options.fifo !== undefined && typeof options.fifo !== 'boolean') {
    throw new ConfigurationError('fifo', 'must be a boolean');
  }
  const visibilityTimeoutSeconds = integerIn(
    'visibilityTimeoutSeconds',
    options.visibilityTimeoutSeconds,
    1,
    43_200,
    30,
  );
  const waitTimeSeconds = integerIn('waitTimeSeconds', options.waitTimeSeconds, 1, 20, 20);
  const maxDeliveries = integerIn('maxDeliveries', options.maxDeliveries, 1, 1_000, 10);
  const logger = options.logger ?? defaultLogger();
  if (typeof logger.warn !== 'function' || typeof logger.error !== 'function') {
    throw new ConfigurationError('logger', 'must be a Logger (debug, info, warn, error)');
  }
  return {
    region: options.region,
    endpoint: options.endpoint,
    credentials: options.credentials,
    namePrefix,
    fifo: options.fifo ?? false,
    visibilityTimeoutSeconds,
    waitTimeSeconds,
    maxDeliveries,
    logger,
  };
}

function validateEndpoint(endpoint: unknown): void {
  let url: URL;
  try {
    url = new URL(String(endpoint));
  } catch {
    throw new ConfigurationError(
      'endpoint',
      `must be a URL like 'http://127.0.0.1:4566', got '${String(endpoint)}'`,
    );
  }
  if (typeof endpoint !== 'string' || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigurationError('endpoint', `must be an http: or https: URL, got '${String(endpoint)}'`);
  }
}

function validateCredentials(credentials: StaticCredentials): void {
  if (credentials === null || typeof credentials !== 'object') {
    throw new ConfigurationError('credentials', 'must be an object with accessKeyId and secretAccessKey');
  }
  for (const field of ['accessKeyId', 'secretAccessKey'] as const) {
    const value = credentials[field] as unknown;
    if (typeof value !== 'string' || value.length === 0) {
      throw new ConfigurationError(`credentials.${field}`, 'must be a non-empty string');
    }
  }
  const token = credentials.sessionToken as unknown;
  if (token !== undefined && (typeof token !== 'string' || token.length === 0)) {
    throw new ConfigurationError('credentials.sessionToken', 'must be a non-empty string when given');
  }
}

function integerIn(
  field: string,
  value: number | undefined,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigurationError(field, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}
