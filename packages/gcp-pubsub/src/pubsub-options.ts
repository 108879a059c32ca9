import type { ClientConfig } from '@google-cloud/pubsub';
import type { Logger } from '@omnibus/core';
import { ConfigurationError, defaultLogger } from '@omnibus/core';

/** How the publisher groups messages into `Publish` requests (the client library's batching). */
export interface PubSubBatchingOptions {
  /** Messages per request. Default 100; at most 1,000 (Pub/Sub's limit). */
  readonly maxMessages?: number;
  /** Longest wait, in ms, before a partly filled batch is sent. Default 10. */
  readonly maxMilliseconds?: number;
  /** Bytes per request. Default 1 MiB; at most 9 MiB (the client library's cap under the 10 MB request limit). */
  readonly maxBytes?: number;
}

/** A `GoogleAuth` from `google-auth-library` (what `@google-cloud/pubsub` takes as `auth`). */
export type PubSubAuth = NonNullable<ClientConfig['auth']>;

export interface PubSubTransportOptions {
  /** The Google Cloud project that owns the topics and subscriptions. Required. */
  readonly projectId: string;
  /**
   * `host:port` of an emulator (pstest, the gcloud emulator). Default: `PUBSUB_EMULATOR_HOST` when no
   * `auth` is given. With an emulator the transport talks plain-text gRPC and does not authenticate.
   */
  readonly emulatorHost?: string;
  /**
   * Credentials for Google Cloud, e.g. `new GoogleAuth({ authClient: new JWT({ email, key, scopes }) })`.
   * Default (no emulator): Application Default Credentials (workload identity, `gcloud auth`, the
   * `GOOGLE_APPLICATION_CREDENTIALS` key file). Key objects and key file paths are not taken directly:
   * the auth library deprecates both.
   */
  readonly auth?: PubSubAuth;
  /**
   * Put before every topic and subscription id, e.g. `prod.` or `team-a-`. Default none. Pub/Sub ids
   * must start with a letter, so set one when channel or queue names may start with a digit.
   */
  readonly namePrefix?: string;
  readonly batching?: PubSubBatchingOptions;
  /**
   * Give every subscription a server-side dead-letter policy (`maxDeliveryAttempts` from the topology's
   * `maxDeliveries`) pointing at its dead-letter topic; the server then also reports each message's
   * delivery attempt. Default: true on Google Cloud, false with an emulator, because pstest counts the
   * deliveries of a message to all subscriptions of a topic together and so dead-letters fanned-out
   * messages early. Without it the transport counts attempts itself (per process).
   */
  readonly deadLetterPolicy?: boolean;
  readonly logger?: Logger;
}

/** The options with every default applied; what the transport runs on. */
export interface ResolvedPubSubOptions {
  readonly projectId: string;
  /** Set when talking to an emulator. */
  readonly emulatorHost: string | undefined;
  readonly auth: PubSubAuth | undefined;
  readonly namePrefix: string;
  readonly batching: Required<PubSubBatchingOptions>;
  readonly deadLetterPolicy: boolean;
  readonly logger: Logger;
}

/** Pub/Sub ids may hold these characters; the prefix must also start with a letter. */
const NAME_PREFIX = /^(?:[A-Za-z][A-Za-z0-9\-_.~+%]*)?$/;
/** Project ids: 6-30 lowercase letters, digits or hyphens, starting with a letter; optionally `domain:`. */
const PROJECT_ID = /^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/**
 * Validates the options and applies the defaults; every problem is a `ConfigurationError` naming its field.
 * `env` is where `PUBSUB_EMULATOR_HOST` is read (the process environment by default).
 */
export function resolvePubSubOptions(
  options: PubSubTransportOptions,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ResolvedPubSubOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('options', 'must be an object');
  }
  if (typeof options.projectId !== 'string' || !PROJECT_ID.test(options.projectId)) {
    throw new ConfigurationError(
      'projectId',
      `must be a Google Cloud project id (6-30 lowercase letters, digits or hyphens, starting with a letter), got ${JSON.stringify(options.projectId)}`,
    );
  }
  if (options.emulatorHost !== undefined) checkHostPort('emulatorHost', options.emulatorHost);
  if (options.auth !== undefined) {
    const auth = options.auth as { getClient?: unknown } | null;
    if (auth === null || typeof auth !== 'object' || typeof auth.getClient !== 'function') {
      throw new ConfigurationError('auth', 'must be a GoogleAuth instance from google-auth-library');
    }
    if (options.emulatorHost !== undefined) {
      throw new ConfigurationError(
        'emulatorHost',
        'an emulator takes no credentials: give emulatorHost or auth, not both',
      );
    }
  }
  const authenticated = options.auth !== undefined;
  let emulatorHost = options.emulatorHost;
  const fromEnv = env.PUBSUB_EMULATOR_HOST;
  if (emulatorHost === undefined && !authenticated && fromEnv !== undefined && fromEnv !== '') {
    checkHostPort('PUBSUB_EMULATOR_HOST', fromEnv);
    emulatorHost = fromEnv;
  }
  const namePrefix = options.namePrefix ?? '';
  if (typeof namePrefix !== 'string' || !NAME_PREFIX.test(namePrefix) || namePrefix.length > 100) {
    throw new ConfigurationError(
      'namePrefix',
      'must start with a letter and hold only letters, digits and - _ . ~ + % (at most 100), got ' +
        JSON.stringify(namePrefix),
    );
  }
  if (namePrefix.toLowerCase().startsWith('goog')) {
    throw new ConfigurationError('namePrefix', "Pub/Sub ids must not start with 'goog'");
  }
  const batching = {
    maxMessages: options.batching?.maxMessages ?? 100,
    maxMilliseconds: options.batching?.maxMilliseconds ?? 10,
    maxBytes: options.batching?.maxBytes ?? 1024 * 1024,
  };
  integerIn('batching.maxMessages', batching.maxMessages, 1, 1_000);
  integerIn('batching.maxMilliseconds', batching.maxMilliseconds, 0, 60_000);
  integerIn('batching.maxBytes', batching.maxBytes, 1, 9 * 1024 * 1024);
  if (options.deadLetterPolicy !== undefined && typeof options.deadLetterPolicy !== 'boolean') {
    throw new ConfigurationError('deadLetterPolicy', 'must be a boolean');
  }
  const logger = options.logger ?? defaultLogger();
  if (typeof logger.warn !== 'function' || typeof logger.error !== 'function') {
    throw new ConfigurationError('logger', 'must have debug, info, warn and error methods');
  }
  return {
    projectId: options.projectId,
    emulatorHost,
    auth: options.auth,
    namePrefix,
    batching,
    deadLetterPolicy: options.deadLetterPolicy ?? emulatorHost === undefined,
    logger,
  };
}

function checkHostPort(field: string, value: unknown): void {
  const match = typeof value === 'string' ? HOST_PORT.exec(value) : null;
  const port = match === null ? 0 : Number(match[1]);
  if (port < 1 || port > 65_535) {
    throw new ConfigurationError(field, `must be host:port, got ${JSON.stringify(value)}`);
  }
}

function integerIn(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigurationError(field, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}
