import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import type { KafkaTransportOptions } from '../src/index.js';
import type { KafkaClientName } from '../src/kafka-client.js';
import { KafkaTransport } from '../src/index.js';

/** The broker lab's Kafka (`scripts/brokers up kafka`). */
export const brokers = (process.env.OMNIBUS_KAFKA_BROKERS ?? '127.0.0.1:9092')
  .split(',')
  .map((b) => b.trim());

/**
 * The clients every Kafka-specific test runs on; `OMNIBUS_KAFKA_CLIENT=kafkajs` (or `platformatic`) runs
 * one only.
 */
export const KAFKA_CLIENTS: readonly KafkaClientName[] = (['kafkajs', 'platformatic'] as const).filter(
  (client) => (process.env.OMNIBUS_KAFKA_CLIENT ?? client) === client,
);

/** Settings that keep group joins and rebalances quick against the one-node test broker. */
export const fastConsumer = {
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 500,
  rebalanceTimeoutMs: 10_000,
  maxWaitTimeMs: 100,
} as const;

/** A raw kafkajs client for the tests' own looks at the broker (foreign producers and consumers). */
export function rawKafka(): Kafka {
  return new Kafka({ brokers, clientId: 'omnibus-test', logLevel: logLevel.NOTHING, retry: { retries: 2 } });
}

/** Fails unless the broker answers within a few seconds. */
export async function probeKafka(): Promise<void> {
  const admin = new Kafka({
    brokers,
    clientId: 'omnibus-probe',
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } finally {
    await admin.disconnect();
  }
}

/**
 * Every topic and group of this test run starts with this prefix, so `deleteTestTopics` removes what the
 * run created (and nothing of a run going on at the same time).
 */
export const testPrefix = `omnibus-test-${randomBytes(3).toString('hex')}.`;

/** A connected transport with test settings. */
export async function testTransport(
  options: KafkaTransportOptions = {},
  { connect = true }: { connect?: boolean } = {},
): Promise<KafkaTransport> {
  const transport = new KafkaTransport({
    brokers,
    clientId: 'omnibus-test',
    partitions: 3,
    namePrefix: testPrefix,
    ...options,
    consumer: { ...fastConsumer, ...options.consumer },
  });
  if (connect) await transport.connect();
  return transport;
}

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** Stops and starts the lab's Kafka, keeping its data. */
export async function restartKafka(): Promise<void> {
  await promisify(execFile)('scripts/brokers', ['restart', 'kafka'], { cwd: repoRoot, timeout: 180_000 });
}

/** Deletes the topics this test run created: a lab broker would otherwise collect thousands. */
export async function deleteTestTopics(): Promise<void> {
  const admin = rawKafka().admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(testPrefix));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
  } catch {
    // best effort: a broker that went away keeps its topics, the tests' results stand
  } finally {
    await admin.disconnect();
  }
}
