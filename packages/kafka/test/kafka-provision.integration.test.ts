import { expect } from 'chai';
import type { Envelope } from '@omnibus/core';
import { Header, uuidv7 } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import type { KafkaTransport } from '../src/index.js';
import { deleteTestTopics, probeKafka, testTransport } from './kafka-test-support.js';
import { KAFKA_CLIENTS } from './kafka-test-support.js';

const envelope = (type = 'test.Thing'): Envelope => ({
  id: uuidv7(),
  type,
  headers: { [Header.specVersion]: '1.0' },
  body: Buffer.from('{}'),
});

describeIntegration('kafka provisioning', probeKafka, () => {
  for (const client of KAFKA_CLIENTS) {
    describe(`on ${client}`, function () {
      after(deleteTestTopics);

      const transports: KafkaTransport[] = [];
      afterEach(async function () {
        await Promise.allSettled(transports.splice(0).map((t) => t.close()));
      });
      async function transport(): Promise<KafkaTransport> {
        const created = await testTransport({ client });
        transports.push(created);
        return created;
      }

      it('starts a new subscription at the end of a channel with history, and keeps that mark', async function () {
        const publisher = await transport();
        const channel = uniqueName('ch');
        const group = uniqueName('late');
        await publisher.provision({ channels: [{ name: channel }] });
        const history = [envelope(), envelope(), envelope()];
        await publisher.publish({ kind: 'channel', channel }, history);
        await publisher.provision({ subscriptions: [{ channel, group }] });
        const afterProvisioning = [envelope(), envelope()];
        await publisher.publish({ kind: 'channel', channel }, afterProvisioning);

        // Another instance provisions the same subscription again before consuming: the mark stays.
        const consumerSide = await transport();
        await consumerSide.provision({ channels: [{ name: channel }], subscriptions: [{ channel, group }] });
        const received = new Set<string>();
        const consumer = await consumerSide.consume(
          { kind: 'subscription', channel, group },
          async (d) => {
            received.add(d.envelope.id);
            await d.ack();
          },
          { concurrency: 4 },
        );
        const marker = envelope('test.Marker');
        await publisher.publish({ kind: 'channel', channel }, [marker]);
        await waitFor(() => received.has(marker.id), { timeoutMs: 20_000, message: 'the marker' });
        await consumer.close();
        expect([...received].sort()).to.deep.equal([...afterProvisioning, marker].map((e) => e.id).sort());
      });

      it('refuses to publish to or consume from what was never provisioned', async function () {
        const kafka = await transport();
        const missing = uniqueName('missing');
        const publishing = await kafka
          .publish({ kind: 'queue', queue: missing }, [envelope()])
          .catch((e: unknown) => e);
        expect(publishing).to.have.property('code', 'NOT_PROVISIONED');
        const consuming = await kafka
          .consume({ kind: 'queue', queue: missing }, async () => undefined, { concurrency: 1 })
          .catch((e: unknown) => e);
        expect(consuming).to.have.property('code', 'NOT_PROVISIONED');
      });

      it('reports health', async function () {
        const kafka = await transport();
        expect((await kafka.health()).status).to.equal('up');
        await kafka.close();
        expect((await kafka.health()).status).to.equal('down');
      });
    });
  }
});
