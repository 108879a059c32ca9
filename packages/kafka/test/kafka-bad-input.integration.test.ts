import { expect } from 'chai';
import { Bus, defineEvent, Handle, readFailure, Subscriber } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import type { KafkaMessage } from 'kafkajs';
import {
  deleteTestTopics,
  fastConsumer,
  probeKafka,
  rawKafka,
  testPrefix,
  testTransport,
} from './kafka-test-support.js';

interface OrderPlaced {
  readonly orderId: string;
}

describeIntegration('kafka bad input through the bus', probeKafka, () => {
  after(deleteTestTopics);

  it('dead-letters garbage with the reason, acks unknown types, and keeps the partition moving', async function () {
    const channel = uniqueName('orders');
    const group = uniqueName('billing');
    const Placed = defineEvent<OrderPlaced>({ type: 'test.OrderPlaced', channel, key: (e) => e.orderId });
    const handled: string[] = [];

    @Subscriber({ group })
    class Billing {
      @Handle(Placed)
      placed(event: OrderPlaced): void {
        handled.push(event.orderId);
      }
    }

    const transport = await testTransport({ partitions: 1 });
    const bus = new Bus({
      transport,
      serviceName: 'bad-input-test',
      handlers: [Billing],
      retry: { attempts: 1 },
    });
    await bus.start();
    try {
      const topic = transport.names.channelTopic(channel);
      const producer = rawKafka().producer();
      await producer.connect();
      try {
        await producer.send({
          topic,
          messages: [
            { key: 'o-1', value: Buffer.from([0x00, 0xff, 0x13, 0x37]) }, // no headers at all
            {
              key: 'o-1',
              value: '{}',
              headers: { ce_id: 'u-1', ce_type: 'test.SomethingElse', 'content-type': 'application/json' },
            },
            {
              key: 'o-1',
              value: 'not json{',
              headers: { ce_id: 'bad-json', ce_type: 'test.OrderPlaced', 'content-type': 'application/json' },
            },
          ],
        });
      } finally {
        await producer.disconnect();
      }
      await bus.publish(Placed, { orderId: 'o-1' });
      await waitFor(() => handled.includes('o-1'), {
        timeoutMs: 20_000,
        message: 'the good message after the bad ones',
      });
      expect(bus.stats.unknownType).to.equal(1);
      expect(bus.stats.deadLettered).to.equal(2);

      const dead: KafkaMessage[] = [];
      const consumer = rawKafka().consumer({
        groupId: uniqueName('inspect'),
        sessionTimeout: fastConsumer.sessionTimeoutMs,
        heartbeatInterval: fastConsumer.heartbeatIntervalMs,
        maxWaitTimeInMs: fastConsumer.maxWaitTimeMs,
      });
      try {
        await consumer.connect();
        // <group>.<channel>.dlq, after the test run's name prefix
        await consumer.subscribe({ topic: `${testPrefix}${group}.${channel}.dlq`, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            dead.push(message);
          },
        });
        await waitFor(() => dead.length === 2, { timeoutMs: 20_000, message: 'two dead letters' });
      } finally {
        await consumer.disconnect();
      }
      const header = (message: KafkaMessage, name: string) => message.headers?.[name]?.toString();
      expect(header(dead[0]!, 'omnibus-error-code')).to.equal('MISSING_HEADER');
      expect(header(dead[0]!, 'omnibus-error-message')).to.equal('message has no type');
      expect(header(dead[0]!, 'omnibus-error-group')).to.equal(group);
      expect(dead[0]!.value).to.deep.equal(Buffer.from([0x00, 0xff, 0x13, 0x37]));
      expect(header(dead[1]!, 'omnibus-error-code')).to.equal('MALFORMED_BODY');
      expect(header(dead[1]!, 'ce_id')).to.equal('bad-json');
      expect(dead[1]!.key?.toString()).to.equal('o-1');

      const replayable: string[] = [];
      const dlq = await transport.consume(
        { kind: 'deadLetters', of: { kind: 'subscription', channel, group } },
        async (d) => {
          // Both have key o-1: the second is handed out once the first is settled.
          replayable.push(readFailure(d.envelope)?.code ?? 'none');
          await d.ack();
        },
        { concurrency: 2 },
      );
      await waitFor(() => replayable.length === 2, {
        timeoutMs: 20_000,
        message: 'the dead letters through the transport',
      });
      await dlq.close();
      expect(replayable).to.deep.equal(['MISSING_HEADER', 'MALFORMED_BODY']);
    } finally {
      await bus.stop();
    }
  });
});
