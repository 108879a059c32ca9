import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { Logger, QueueSource, SubscriptionSource } from '@omnibus/core';
import { ConfigurationError, defaultLogger } from '@omnibus/core';
import type { KafkaClientName } from './kafka-client.js';

/** SASL authentication; pair it with `ssl` unless the network is trusted. */
export interface KafkaSaslOptions {
  readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  readonly password: string;
}

/** Consumer tuning. The defaults suit production; tests shorten the timeouts. */
export interface KafkaConsumerOptions {
  /** The broker drops a member it has not heard from for this long. Default 30,000 ms. */
  readonly sessionTimeoutMs?: number;
  /** How often a member tells the coordinator it is alive; below a third of the session. Default 3,000 ms. */
  readonly heartbeatIntervalMs?: number;
  /** How long the coordinator waits for members to rejoin during a rebalance. Default 60,000 ms. */
  readonly rebalanceTimeoutMs?: number;
  /** Longest a fetch waits on the broker for new records (also the pause/resume latency). Default 500 ms. */
  readonly maxWaitTimeMs?: number;
  /**
   * Deliveries in flight per partition, at most the `concurrency` given to `consume`: one partition
   * cannot take the whole consumer. Default: no limit beyond `concurrency`.
   */
  readonly partitionConcurrency?: number;
  /**
   * Bytes of records fetched but not yet handed out, per partition, before fetching from that partition
   * pauses (prefetch). Fetching resumes below half of it; keep that half above what the consumer handles
   * in `maxWaitTimeMs`, or it waits for data between fetches. Default 4 MiB.
   */
  readonly maxBufferedBytesPerPartition?: number;
  /**
   * A record with more headers than this is not decoded: it goes to the dead-letter topic (without its
   * headers) with the reason. Default 128.
   */
  readonly maxHeaders?: number;
  /** The same for a record whose header names and values add up to more bytes than this. Default 64 KiB. */
  readonly maxHeaderBytes?: number;
  /**
   * `'eager'`: every member stops handing out while the group rebalances. `'cooperative'`
   * (`client: 'platformatic'` only; the cooperative-sticky assignor): members keep the partitions they
   * keep and go on with them; only moved partitions stop. All members of a group must use the same.
   * Default `'eager'`.
   */
  readonly rebalancing?: 'eager' | 'cooperative';
}

export interface KafkaTransportOptions {
  /**
   * The Kafka client library: `'kafkajs'` (kafkajs 2.2) or `'platformatic'` (@platformatic/kafka).
   * Default `'kafkajs'`. See docs/kafka.md, "Two clients".
   */
  readonly client?: KafkaClientName;
  /** `host:port` of one or more bootstrap brokers. Default: `OMNIBUS_KAFKA_BROKERS` (comma-separated), else `127.0.0.1:9092`. */
  readonly brokers?: readonly string[];
  /** The client id the brokers see in logs and quotas. Default `omnibus`. */
  readonly clientId?: string;
  /** TLS: `true` for Node's defaults, or TLS options (CA, client certificate). Default off. */
  readonly ssl?: boolean | TlsConnectionOptions;
  readonly sasl?: KafkaSaslOptions;
  /** Prepended to every topic and consumer group name, e.g. `staging.`. Default none. */
  readonly namePrefix?: string;
  /** Partitions of each topic the transport creates. Default 3. */
  readonly partitions?: number;
  /** Replicas of each topic the transport creates. Default: the broker's `default.replication.factor`. */
  readonly replicationFactor?: number;
  /**
   * Largest envelope `publish` accepts, in bytes. The topics the transport creates get a
   * `max.message.bytes` a little above it, for headers and dead-letter reasons. Default 1,000,000.
   */
  readonly maxMessageBytes?: number;
  /**
   * The dead-letter topic of a subscription or queue, before `namePrefix`. Default
   * `<group>.<channel>.dlq` for a subscription and `<queue>.dlq` for a queue.
   */
  readonly deadLetterTopic?: (source: SubscriptionSource | QueueSource) => string;
  /**
   * Retries of a failed produce request before `publish` rejects; at least 1 (the idempotent producer
   * needs one). After a failed publish the producer is replaced, so a later publish never reuses the
   * sequence numbers of one that may have been written. Default 5.
   */
  readonly publishRetries?: number;
  /**
   * The longest a retried record waits on its retry topic: longer `retry(delay)` calls, and due times
   * read from a retry topic, are cut to it. At most 2,147,483,647 (Node's longest timer). Default
   * 86,400,000 (a day).
   */
  readonly maxRetryDelayMs?: number;
  readonly consumer?: KafkaConsumerOptions;
  readonly logger?: Logger;
}

/** Options after validation, with defaults applied. */
export interface ResolvedKafkaOptions {
  readonly client: KafkaClientName;
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl: boolean | TlsConnectionOptions | undefined;
  readonly sasl: KafkaSaslOptions | undefined;
  readonly namePrefix: string;
  readonly partitions: number;
  readonly replicationFactor: number | undefined;
  readonly maxMessageBytes: number;
  readonly deadLetterTopic: ((source: SubscriptionSource | QueueSource) => string) | undefined;
  readonly publishRetries: number;
  readonly maxRetryDelayMs: number;
  readonly consumer: Required<Omit<KafkaConsumerOptions, 'partitionConcurrency'>> & {
    readonly partitionConcurrency: number | undefined;
  };
  readonly logger: Logger;
}

export const DEFAULT_KAFKA_BROKERS = ['127.0.0.1:9092'] as const;
/** Kafka's limit on topic names. */
export const MAX_TOPIC_NAME_LENGTH = 249;
/** Legal characters of Kafka topic names. */
export const TOPIC_NAME = /^[A-Za-z0-9._-]+$/;
const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
const CLIENTS: readonly KafkaClientName[] = ['kafkajs', 'platformatic'];
const BROKER = /^(?<host>\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):(?<port>\d{1,5})$/;

/**
 * Checks every option and applies the defaults; a bad option throws a `ConfigurationError` naming it.
 * Nothing is contacted here: the brokers are reached on `connect()`.
 */
export function resolveKafkaOptions(options: KafkaTransportOptions = {}): ResolvedKafkaOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('options', 'must be an object');
  }
  const client = options.client ?? 'kafkajs';
  if (!CLIENTS.includes(client)) {
    throw new ConfigurationError('client', `must be one of ${CLIENTS.join(', ')}`);
  }
  const brokers: unknown = options.brokers ?? brokersFromEnvironment();
  if (!Array.isArray(brokers) || brokers.length === 0) {
    throw new ConfigurationError('brokers', 'must be a non-empty array of "host:port"');
  }
  brokers.forEach((broker: unknown, i) => {
    const match = typeof broker === 'string' ? BROKER.exec(broker) : null;
    const port = Number(match?.groups?.port);
    if (match === null || port < 1 || port > 65_535) {
      throw new ConfigurationError(`brokers[${i}]`, `must be "host:port", got ${JSON.stringify(broker)}`);
    }
  });
  const clientId = options.clientId ?? 'omnibus';
  if (typeof clientId !== 'string' || clientId.trim().length === 0) {
    throw new ConfigurationError('clientId', 'must be a non-empty string');
  }
  const ssl = options.ssl;
  if (ssl !== undefined && typeof ssl !== 'boolean' && (ssl === null || typeof ssl !== 'object')) {
    throw new ConfigurationError('ssl', 'must be a boolean or TLS options');
  }
  const sasl = options.sasl;
  if (sasl !== undefined) {
    if (sasl === null || typeof sasl !== 'object') throw new ConfigurationError('sasl', 'must be an object');
    if (!SASL_MECHANISMS.includes(sasl.mechanism)) {
      throw new ConfigurationError('sasl.mechanism', `must be one of ${SASL_MECHANISMS.join(', ')}`);
    }
    if (typeof sasl.username !== 'string' || sasl.username.length === 0) {
      throw new ConfigurationError('sasl.username', 'must be a non-empty string');
    }
    if (typeof sasl.password !== 'string') throw new ConfigurationError('sasl.password', 'must be a string');
  }
  const namePrefix = options.namePrefix ?? '';
  if (typeof namePrefix !== 'string' || (namePrefix !== '' && !TOPIC_NAME.test(namePrefix))) {
    throw new ConfigurationError('namePrefix', "must be letters, digits, '.', '_' or '-'");
  }
  if (namePrefix.length > MAX_TOPIC_NAME_LENGTH - 16) {
    throw new ConfigurationError(
      'namePrefix',
      `must leave room for names (at most ${MAX_TOPIC_NAME_LENGTH - 16})`,
    );
  }
  const deadLetterTopic = options.deadLetterTopic;
  if (deadLetterTopic !== undefined && typeof deadLetterTopic !== 'function') {
    throw new ConfigurationError('deadLetterTopic', 'must be a function of the source');
  }
  const consumer = options.consumer ?? {};
  if (consumer === null || typeof consumer !== 'object') {
    throw new ConfigurationError('consumer', 'must be an object');
  }
  const resolvedConsumer = {
    sessionTimeoutMs: positiveInteger('consumer.sessionTimeoutMs', consumer.sessionTimeoutMs, 30_000),
    heartbeatIntervalMs: positiveInteger('consumer.heartbeatIntervalMs', consumer.heartbeatIntervalMs, 3_000),
    rebalanceTimeoutMs: positiveInteger('consumer.rebalanceTimeoutMs', consumer.rebalanceTimeoutMs, 60_000),
    maxWaitTimeMs: positiveInteger('consumer.maxWaitTimeMs', consumer.maxWaitTimeMs, 500),
    partitionConcurrency:
      consumer.partitionConcurrency === undefined
        ? undefined
        : positiveInteger('consumer.partitionConcurrency', consumer.partitionConcurrency, 1),
    maxBufferedBytesPerPartition: positiveInteger(
      'consumer.maxBufferedBytesPerPartition',
      consumer.maxBufferedBytesPerPartition,
      4 * 1024 * 1024,
    ),
    maxHeaders: positiveInteger('consumer.maxHeaders', consumer.maxHeaders, 128),
    maxHeaderBytes: positiveInteger('consumer.maxHeaderBytes', consumer.maxHeaderBytes, 64 * 1024),
    rebalancing: consumer.rebalancing ?? 'eager',
  };
  if (resolvedConsumer.rebalancing !== 'eager' && resolvedConsumer.rebalancing !== 'cooperative') {
    throw new ConfigurationError('consumer.rebalancing', "must be 'eager' or 'cooperative'");
  }
  if (resolvedConsumer.rebalancing === 'cooperative' && client !== 'platformatic') {
    throw new ConfigurationError('consumer.rebalancing', "'cooperative' needs client: 'platformatic'");
  }
  if (resolvedConsumer.heartbeatIntervalMs >= resolvedConsumer.sessionTimeoutMs) {
    throw new ConfigurationError('consumer.heartbeatIntervalMs', 'must be below consumer.sessionTimeoutMs');
  }
  return {
    client,
    brokers: [...(brokers as string[])],
    clientId,
    ssl,
    sasl,
    namePrefix,
    partitions: positiveInteger('partitions', options.partitions, 3),
    replicationFactor:
      options.replicationFactor === undefined
        ? undefined
        : positiveInteger('replicationFactor', options.replicationFactor, 1),
    maxMessageBytes: positiveInteger('maxMessageBytes', options.maxMessageBytes, 1_000_000),
    deadLetterTopic,
    publishRetries: positiveInteger('publishRetries', options.publishRetries, 5),
    maxRetryDelayMs: maxRetryDelay(options.maxRetryDelayMs),
    consumer: resolvedConsumer,
    logger: options.logger ?? defaultLogger(),
  };
}

function brokersFromEnvironment(): readonly string[] {
  const fromEnv = process.env.OMNIBUS_KAFKA_BROKERS;
  if (fromEnv === undefined || fromEnv.trim() === '') return DEFAULT_KAFKA_BROKERS;
  return fromEnv.split(',').map((broker) => broker.trim());
}

/** Node's timers hold at most 2^31-1 ms; longer ones fire at once, with a warning. */
const MAX_TIMER_MS = 2_147_483_647;

function maxRetryDelay(value: number | undefined): number {
  const resolved = positiveInteger('maxRetryDelayMs', value, 86_400_000);
  if (resolved > MAX_TIMER_MS)
    throw new ConfigurationError('maxRetryDelayMs', `must be at most ${MAX_TIMER_MS}`);
  return resolved;
}

function positiveInteger(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new ConfigurationError(field, 'must be a positive integer');
  return value;
}
