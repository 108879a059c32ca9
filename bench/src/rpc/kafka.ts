/**
 * Request/reply on Kafka for `npm run bench -- rpc kafka`: the bus's transport settings and bare kafkajs
 * doing the same pattern. Every topic and consumer group of a run starts with one prefix and is deleted
 * at its end.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { KafkaTransport } from '@omnibus/kafka';
import { waitForLeaders } from '../kafka-leaders.js';

const brokers = (process.env.OMNIBUS_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim());
/** Every topic and group of this run starts with it (the transport's `namePrefix` too). */
const RUN_PREFIX = `bench-rpc-${randomBytes(4).toString('hex')}.`;
/** The transport's default. */
const PARTITIONS = 3;
/** As bench/src/kafka.ts: short session for quick joins, fetches waiting at most 100 ms on an idle topic. */
const consumerSettings = { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, maxWaitTimeMs: 100 };

/** The bus's transport: the default client (kafkajs), idempotent producer, acks -1, 3 partitions. */
export const kafkaTransport = (): KafkaTransport =>
  new KafkaTransport({
    brokers,
    clientId: 'bench-omnibus',
    namePrefix: RUN_PREFIX,
    consumer: consumerSettings,
  });

/**
 * Bare kafkajs: a request topic read by the responder's consumer group, a reply topic (this requester's
 * own) read by the requester's group, both of 3 partitions and made fresh, so each group starts at the
 * beginning. A request carries its correlation id and the reply topic in headers. Both producers as the
 * transport's: idempotent, `acks: -1`, one `send` per request. The responder takes what each fetch
 * brings (`eachBatch`), sends all its replies in one `send` and only then returns, so kafkajs commits the
 * requests' offsets after their replies are durable (acks after handling). The requester's consumer
 * resolves the waiting caller by correlation id; kafkajs commits after each batch. kafkajs's idempotent
 * producer sends one produce request at a time per broker, so concurrent callers' sends wait in line
 * (the transport gathers concurrent publishes into one request instead).
 */
export async function rawKafka() {
  const kafka = new Kafka({ brokers, clientId: 'bench-raw', logLevel: logLevel.NOTHING });
  const id = randomUUID();
  const requestTopic = `${RUN_PREFIX}raw-requests-${id}`;
  const replyTopic = `${RUN_PREFIX}raw-replies-${id}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [requestTopic, replyTopic].map((topic) => ({ topic, numPartitions: PARTITIONS })),
      waitForLeaders: false,
    });
    // A KRaft broker answers UNKNOWN_TOPIC_OR_PARTITION for a moment after creating a topic (kafka.ts).
    for (const topic of [requestTopic, replyTopic]) await waitForLeaders(admin, topic, PARTITIONS);
  } finally {
    await admin.disconnect();
  }
  const producer = () =>
    kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  const responderProducer = producer();
  const requesterProducer = producer();
  await Promise.all([responderProducer.connect(), requesterProducer.connect()]);
  const consumer = (groupId: string): Consumer =>
    kafka.consumer({
      groupId,
      sessionTimeout: consumerSettings.sessionTimeoutMs,
      heartbeatInterval: consumerSettings.heartbeatIntervalMs,
      maxWaitTimeInMs: consumerSettings.maxWaitTimeMs,
    });
  const responder = consumer(`${requestTopic}.responder`);
  const requester = consumer(`${replyTopic}.requester`);
  const joined = [responder, requester].map(
    (member) => new Promise<void>((resolve) => member.on(member.events.GROUP_JOIN, () => resolve())),
  );
  await responder.connect();
  await responder.subscribe({ topic: requestTopic, fromBeginning: true });
  await responder.run({
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatch: async ({ batch }) => {
      const replies = new Map<string, { value: Buffer; headers: Record<string, string> }[]>();
      for (const message of batch.messages) {
        const to = String(message.headers!['reply-to']);
        const correlation = String(message.headers!['correlation-id']);
        let list = replies.get(to);
        if (list === undefined) replies.set(to, (list = []));
        list.push({ value: message.value!, headers: { 'correlation-id': correlation } });
      }
      await responderProducer.sendBatch({
        acks: -1,
        topicMessages: [...replies].map(([topic, messages]) => ({ topic, messages })),
      });
    },
  });
  const pending = new Map<string, () => void>();
  await requester.connect();
  await requester.subscribe({ topic: replyTopic, fromBeginning: true });
  await requester.run({
    partitionsConsumedConcurrently: PARTITIONS,
    eachMessage: async ({ message }) => {
      const correlation = String(message.headers!['correlation-id']);
      pending.get(correlation)?.();
      pending.delete(correlation);
    },
  });
  await Promise.all(joined);
  return {
    ask: async (n: number) => {
      const correlation = randomUUID();
      const replied = new Promise<void>((resolve) => pending.set(correlation, resolve));
      await requesterProducer.send({
        topic: requestTopic,
        acks: -1,
        messages: [
          {
            value: Buffer.from(JSON.stringify({ n })),
            headers: { 'correlation-id': correlation, 'reply-to': replyTopic },
          },
        ],
      });
      await replied;
    },
    close: async () => {
      await Promise.all([responder.disconnect(), requester.disconnect()]);
      await Promise.all([responderProducer.disconnect(), requesterProducer.disconnect()]);
    },
  };
}

/** Deletes every topic and consumer group of this run (the bus's and the raw client's). */
export async function deleteKafkaRun(): Promise<void> {
  const admin = new Kafka({ brokers, clientId: 'bench-cleanup', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(RUN_PREFIX));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
    const { groups } = await admin.listGroups();
    const groupIds = groups.map((group) => group.groupId).filter((group) => group.startsWith(RUN_PREFIX));
    // A group still being left by its member cannot be deleted yet; the broker drops its offsets later.
    if (groupIds.length > 0) {
      await admin
        .deleteGroups(groupIds)
        .catch((error: unknown) => console.error(`kafka: consumer groups not all deleted: ${String(error)}`));
    }
  } finally {
    await admin.disconnect();
  }
}
