import 'reflect-metadata';
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaRegistry as ConfluentClient } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import { AvroSerializer, SchemaRegistryClient, TopicNameStrategy } from '@omnibus/avro';
import { Bus, defineEvent, silentLogger } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { KafkaTransport } from '@omnibus/kafka';
import { startRegistry, type RunningRegistry } from '@omnibus/schema-registry';

const brokers = (process.env.OMNIBUS_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const prefix = `omnibus-test-${randomBytes(3).toString('hex')}.`;

async function probe(): Promise<void> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  await admin.connect();
  await admin.disconnect();
}

const thing = {
  type: 'record',
  name: 'Thing',
  namespace: 'subjects',
  fields: [
    { name: 'name', type: 'string' },
    { name: 'n', type: 'int' },
  ],
};

/**
 * #15.3: with `namePrefix` the Kafka topic is `<prefix><channel>`, and Confluent's serializers and tools
 * look for `<topic>-value`. With the strategy docs/avro.md gives (the prefix in front of
 * `TopicNameStrategy`), Confluent's own client finds our subject under the topic's real name, and the id
 * in each record is that subject's.
 */
describeIntegration('avro subjects under a Kafka namePrefix', probe, function () {
  this.timeout(90_000);
  let registry: RunningRegistry;
  let transport: KafkaTransport;
  let bus: Bus | undefined;
  let schemasDir: string;

  before(async function () {
    registry = await startRegistry({ port: 0, logger: silentLogger });
    schemasDir = await mkdtemp(join(tmpdir(), 'omnibus-subjects-'));
    await writeFile(join(schemasDir, 'thing.avsc'), JSON.stringify(thing));
    transport = new KafkaTransport({ brokers, clientId: 'omnibus-test', namePrefix: prefix });
    await transport.connect();
  });
  after(async function () {
    await bus?.stop();
    await transport.close();
    await registry.close();
    await rm(schemasDir, { recursive: true, force: true });
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
    await admin.disconnect();
  });

  it('registers <prefixed topic>-value, which a Confluent client finds and decodes with', async function () {
    const channel = uniqueName('things');
    const Thing = defineEvent<{ name: string; n: number }>({
      type: 'subjects.Thing',
      channel,
      schema: 'thing.avsc',
    });
    const avro = new AvroSerializer({
      registry: new SchemaRegistryClient({ url: registry.url }),
      schemasDir,
      subjectNameStrategy: (contract, recordName) => prefix + TopicNameStrategy(contract, recordName),
    });
    bus = new Bus({
      transport,
      serviceName: 'subjects',
      serializers: [avro],
      closeTransport: false,
      logger: silentLogger,
    });
    await bus.start();
    const topic = transport.names.channelTopic(channel);
    expect(topic).to.equal(`${prefix}${channel}`);

    // Published before the raw consumer subscribes: once the publish is acknowledged the topic has a
    // leader, and the consumer reads from the beginning.
    await bus.publish(Thing, { name: 'seven', n: 7 });
    const raw = new Kafka({ brokers, logLevel: logLevel.NOTHING });
    const consumer = raw.consumer({ groupId: `${prefix}reader-${channel}` });
    const values: Buffer[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (message.value !== null) values.push(message.value);
        },
      });
      await waitFor(() => values.length === 1, { timeoutMs: 60_000, message: 'the record, read raw' });
    } finally {
      await consumer.disconnect();
    }

    const confluent = new ConfluentClient({ host: registry.url, retry: { retries: 0 } });
    const id = await confluent.getLatestSchemaId(`${topic}-value`);
    expect(values[0]!.readUInt32BE(1), 'the record names the topic subject').to.equal(id);
    expect({ ...(await confluent.decode(values[0]!)) }).to.deep.equal({ name: 'seven', n: 7 });
  });
});
