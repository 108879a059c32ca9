import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { expect } from 'chai';
import { Kafka, logLevel, Partitioners, type KafkaMessage } from 'kafkajs';
import { brokerEnv } from '../src/index.js';
import { unreachable } from './unreachable.js';

// Proves the lab's Kafka, with kafkajs alone: no Omnibus code runs here.
const brokers = [...brokerEnv.kafkaBrokers];
const kafka = new Kafka({ clientId: 'omnibus-lab', brokers, logLevel: logLevel.NOTHING });

async function probe(): Promise<void> {
  // Its own client, failing at once: the suite's client keeps kafkajs's protocol retries, which a
  // consumer group needs (a fresh broker answers COORDINATOR_NOT_AVAILABLE until it has made
  // __consumer_offsets).
  const admin = new Kafka({
    clientId: 'omnibus-lab-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (error) {
    throw unreachable(`Kafka at ${brokers.join(',')}`, error);
  } finally {
    await admin.disconnect();
  }
}

describeIntegration(`lab: Kafka at ${brokers.join(',')}`, probe, () => {
  it('creates a topic, produces one message and consumes it in a consumer group', async () => {
    const topic = uniqueName('lab-kafka');
    const groupId = uniqueName('lab-kafka-group');
    const admin = kafka.admin();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    const consumer = kafka.consumer({ groupId });
    await admin.connect();
    try {
      // auto.create.topics.enable=false in the lab: the topic must be made on purpose.
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: false });
      // kafkajs's own waitForLeaders gives up when a KRaft broker briefly answers "does not host this
      // topic-partition" for a topic it has just created; wait for the leader ourselves, with a deadline.
      await waitFor(
        async () => {
          try {
            const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
            return topics[0]?.partitions.every((partition) => partition.leader >= 0) ?? false;
          } catch {
            return false; // not in the metadata yet
          }
        },
        { timeoutMs: 30_000, message: `a leader for ${topic}` },
      );

      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ key: 'order-1', value: 'hello from the lab' }] });

      const received: KafkaMessage[] = [];
      let crash: Error | undefined;
      consumer.on(consumer.events.CRASH, (event) => {
        crash = event.payload.error;
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          received.push(message);
        },
      });
      await waitFor(
        () => {
          if (crash) throw crash;
          return received.length > 0;
        },
        { timeoutMs: 30_000, message: `a message on ${topic}` },
      );

      expect(received).to.have.length(1);
      expect(received[0]!.key?.toString()).to.equal('order-1');
      expect(received[0]!.value?.toString()).to.equal('hello from the lab');
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});
