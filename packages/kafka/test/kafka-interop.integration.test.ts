import { expect } from 'chai';
import type { Envelope } from '@omnibus/core';
import { Header, uuidv7 } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import type { KafkaMessage } from 'kafkajs';
import type { KafkaTransport } from '../src/index.js';
import { deleteTestTopics, fastConsumer, probeKafka, rawKafka, testTransport } from './kafka-test-support.js';
import { KAFKA_CLIENTS } from './kafka-test-support.js';

describeIntegration('kafka interoperability', probeKafka, () => {
  for (const client of KAFKA_CLIENTS) {
    describe(`on ${client}`, function () {
      after(deleteTestTopics);

      let transport: KafkaTransport;

      beforeEach(async function () {
        transport = await testTransport({ client });
      });

      afterEach(async function () {
        await transport.close();
      });

      it('writes CloudEvents binary mode that a plain kafkajs consumer reads: ce_ headers and the key', async function () {
        const channel = uniqueName('ch');
        await transport.provision({ channels: [{ name: channel }] });
        const sent: Envelope = {
          id: uuidv7(),
          type: 'orders.OrderPlaced',
          key: 'order-7',
          headers: {
            [Header.specVersion]: '1.0',
            [Header.source]: 'orders-service',
            [Header.contentType]: 'application/json',
            [Header.correlationId]: 'corr-1',
            'x-tenant': 'acme',
          },
          body: Buffer.from('{"orderId":"order-7"}'),
        };
        await transport.publish({ kind: 'channel', channel }, [sent]);

        const consumer = rawKafka().consumer({
          groupId: uniqueName('foreign'),
          sessionTimeout: fastConsumer.sessionTimeoutMs,
          heartbeatInterval: fastConsumer.heartbeatIntervalMs,
          maxWaitTimeInMs: fastConsumer.maxWaitTimeMs,
        });
        const read: KafkaMessage[] = [];
        try {
          await consumer.connect();
          await consumer.subscribe({ topic: transport.names.channelTopic(channel), fromBeginning: true });
          await consumer.run({
            eachMessage: async ({ message }) => {
              read.push(message);
            },
          });
          await waitFor(() => read.length === 1, { timeoutMs: 20_000, message: 'the record' });
        } finally {
          await consumer.disconnect();
        }
        const [record] = read;
        const headers = Object.fromEntries(
          Object.entries(record!.headers ?? {}).map(([name, value]) => [name, String(value)]),
        );
        expect(record!.key?.toString()).to.equal('order-7');
        expect(record!.value?.toString()).to.equal('{"orderId":"order-7"}');
        expect(headers).to.deep.equal({
          ce_id: sent.id,
          ce_type: 'orders.OrderPlaced',
          ce_specversion: '1.0',
          ce_source: 'orders-service',
          ce_correlationid: 'corr-1',
          'content-type': 'application/json',
          'x-tenant': 'acme',
        });
      });

      it('reads what other producers write: binary mode, structured mode, and garbage', async function () {
        const queue = uniqueName('q');
        await transport.provision({ queues: [{ name: queue }] });
        const received = new Map<string, Envelope>();
        const consumer = await transport.consume(
          { kind: 'queue', queue },
          async (d) => {
            received.set(d.envelope.id === '' ? 'garbage' : d.envelope.id, d.envelope);
            await d.ack();
          },
          { concurrency: 4 },
        );
        const producer = rawKafka().producer();
        try {
          await producer.connect();
          await producer.send({
            topic: transport.names.queueTopic(queue),
            messages: [
              {
                key: 'k-binary',
                value: '{"n":1}',
                headers: {
                  ce_id: 'binary-1',
                  ce_type: 'legacy.Binary',
                  ce_specversion: '1.0',
                  'content-type': 'application/json',
                },
              },
              {
                key: 'k-structured',
                value: JSON.stringify({
                  specversion: '1.0',
                  id: 'structured-1',
                  type: 'legacy.Structured',
                  source: 'java',
                  data: { n: 2 },
                }),
                headers: { 'content-type': 'application/cloudevents+json; charset=UTF-8' },
              },
              { key: null, value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) },
            ],
          });
        } finally {
          await producer.disconnect();
        }
        await waitFor(() => received.size === 3, { timeoutMs: 20_000, message: 'three records' });
        await consumer.close();
        expect(received.get('binary-1')).to.include({ type: 'legacy.Binary', key: 'k-binary' });
        const structured = received.get('structured-1')!;
        expect(structured).to.include({ type: 'legacy.Structured', key: 'k-structured' });
        expect(structured.headers).to.include({ source: 'java', datacontenttype: 'application/json' });
        expect(JSON.parse(Buffer.from(structured.body).toString())).to.deep.equal({ n: 2 });
        expect(received.get('garbage')).to.include({ type: '' });
      });
    });
  }
});
