import { expect } from 'chai';
import type { MessageContext } from '@omnibus/core';
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
import { KAFKA_CLIENTS } from './kafka-test-support.js';

interface OrderPlaced {
  readonly orderId: string;
}

describeIntegration('kafka bad input through the bus', probeKafka, () => {
  for (const client of KAFKA_CLIENTS) {
    describe(`on ${client}`, function () {
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

        const transport = await testTransport({ client, partitions: 1 });
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
                  headers: {
                    ce_id: 'u-1',
                    ce_type: 'test.SomethingElse',
                    'content-type': 'application/json',
                  },
                },
                {
                  key: 'o-1',
                  value: 'not json{',
                  headers: {
                    ce_id: 'bad-json',
                    ce_type: 'test.OrderPlaced',
                    'content-type': 'application/json',
                  },
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
          // The copies carry exactly the original's headers plus the failure: no empty ce_id/ce_type added.
          const failureHeaders = (message: KafkaMessage) =>
            Object.keys(message.headers ?? {}).filter((name) => !name.startsWith('omnibus-error-'));
          expect(failureHeaders(dead[0]!)).to.deep.equal([]);
          expect(failureHeaders(dead[1]!).sort()).to.deep.equal(['ce_id', 'ce_type', 'content-type']);
          expect(header(dead[1]!, 'content-type')).to.equal('application/json');

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

      it('ignores omnibus-due-at and omnibus-attempt from a foreign producer, and dead-letters records over the header limits', async function () {
        const channel = uniqueName('orders');
        const group = uniqueName('billing');
        const Placed = defineEvent<OrderPlaced>({ type: 'test.OrderPlaced', channel, key: (e) => e.orderId });
        const handled: { id: string; attempt: number }[] = [];

        @Subscriber({ group })
        class Billing {
          @Handle(Placed)
          placed(event: OrderPlaced, ctx: MessageContext): void {
            handled.push({ id: event.orderId, attempt: ctx.attempt });
          }
        }

        const transport = await testTransport({ client, partitions: 1, consumer: { maxHeaders: 16 } });
        const bus = new Bus({
          transport,
          serviceName: 'bad-input-test',
          handlers: [Billing],
          retry: { attempts: 1 },
        });
        await bus.start();
        try {
          const topic = transport.names.channelTopic(channel);
          const event = (orderId: string, extra: Record<string, string>) => ({
            key: 'k-1',
            value: JSON.stringify({ orderId }),
            headers: {
              ce_id: `id-${orderId}`,
              ce_type: 'test.OrderPlaced',
              ce_specversion: '1.0',
              'content-type': 'application/json',
              ...extra,
            },
          });
          const many: Record<string, string> = {};
          for (let i = 0; i < 20; i++) many[`x-h${i}`] = 'v';
          // A header named __proto__ (own property, as a decoder of the wire makes it).
          const hostile = JSON.parse('{"__proto__":"p"}') as Record<string, string>;
          const producer = rawKafka().producer();
          await producer.connect();
          try {
            await producer.send({
              topic,
              messages: [
                // Far in the future: would park key k-1 and pin the partition's commit offset.
                event('parked', { 'omnibus-due-at': '9000000000000000', 'omnibus-attempt': '99' }),
                event('crowded', many),
                event('proto', hostile),
                event('after', {}),
              ],
            });
          } finally {
            await producer.disconnect();
          }
          await waitFor(() => handled.some((h) => h.id === 'after'), {
            timeoutMs: 20_000,
            message: 'the record after the hostile ones',
          });
          expect(handled).to.deep.equal([
            { id: 'parked', attempt: 1 },
            { id: 'proto', attempt: 1 },
            { id: 'after', attempt: 1 },
          ]);

          const dead: KafkaMessage[] = [];
          const consumer = rawKafka().consumer({
            groupId: uniqueName('inspect'),
            sessionTimeout: fastConsumer.sessionTimeoutMs,
            heartbeatInterval: fastConsumer.heartbeatIntervalMs,
            maxWaitTimeInMs: fastConsumer.maxWaitTimeMs,
          });
          try {
            await consumer.connect();
            await consumer.subscribe({ topic: `${testPrefix}${group}.${channel}.dlq`, fromBeginning: true });
            await consumer.run({
              eachMessage: async ({ message }) => {
                dead.push(message);
              },
            });
            await waitFor(() => dead.length === 1, { timeoutMs: 20_000, message: 'the refused record' });
          } finally {
            await consumer.disconnect();
          }
          expect(dead[0]!.headers?.['omnibus-error-code']?.toString()).to.equal('RECORD_REFUSED');
          expect(dead[0]!.headers?.['omnibus-error-message']?.toString()).to.match(
            /24 headers, over the limit of 16/,
          );
          expect(JSON.parse(dead[0]!.value!.toString())).to.deep.equal({ orderId: 'crowded' });
        } finally {
          await bus.stop();
        }
      });
    });
  }
});
