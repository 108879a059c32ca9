import { expect } from 'chai';
import type { Envelope, Transport } from '@omnibus/core';
import { Header, uuidv7 } from '@omnibus/core';
import type { Consumer, Delivery } from '@omnibus/core/transport';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import type { KafkaTransport, KafkaTransportOptions } from '../src/index.js';
import { deleteTestTopics, probeKafka, testTransport } from './kafka-test-support.js';
import { KAFKA_CLIENTS } from './kafka-test-support.js';

function envelope(key: string | undefined, seq: number, type = 'test.Numbered'): Envelope {
  const id = uuidv7();
  return {
    id,
    type,
    ...(key === undefined ? {} : { key }),
    headers: { [Header.specVersion]: '1.0', [Header.contentType]: 'application/json', seq: String(seq) },
    body: Buffer.from(JSON.stringify({ seq })),
  };
}

const seqOf = (d: Delivery): number => Number(d.envelope.headers.seq);

describeIntegration('kafka consumer', probeKafka, () => {
  for (const client of KAFKA_CLIENTS) {
    describe(`on ${client}`, function () {
      after(deleteTestTopics);

      const transports: Transport[] = [];
      const consumers: Consumer[] = [];

      afterEach(async function () {
        await Promise.allSettled(consumers.splice(0).map((c) => c.close()));
        await Promise.allSettled(transports.splice(0).map((t) => t.close()));
      });

      async function transport(options: KafkaTransportOptions = {}): Promise<KafkaTransport> {
        const created = await testTransport({ client, ...options });
        transports.push(created);
        return created;
      }

      async function orderedChannel(on: KafkaTransport) {
        const channel = uniqueName('ch');
        const group = uniqueName('g');
        await on.provision({
          channels: [{ name: channel, ordered: true }],
          subscriptions: [{ channel, group }],
        });
        return {
          destination: { kind: 'channel', channel } as const,
          source: { kind: 'subscription', channel, group } as const,
        };
      }

      it('keeps other keys flowing while one key is slow, in one partition', async function () {
        const kafka = await transport({ partitions: 1 });
        const { destination, source } = await orderedChannel(kafka);
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const handled: string[] = [];
        consumers.push(
          await kafka.consume(
            source,
            async (d) => {
              if (d.envelope.key === 'slow' && seqOf(d) === 0) await gate;
              handled.push(`${d.envelope.key}:${seqOf(d)}`);
              await d.ack();
            },
            { concurrency: 8 },
          ),
        );
        const keys = ['slow', 'k1', 'k2', 'k3', 'k4'];
        const sent: Envelope[] = [];
        for (let seq = 0; seq < 20; seq++) for (const key of keys) sent.push(envelope(key, seq));
        await kafka.publish(destination, sent);
        await waitFor(() => handled.length === 80, {
          timeoutMs: 20_000,
          message: 'the 80 messages of the fast keys',
        });
        expect(
          handled.filter((h) => h.startsWith('slow:')),
          'the slow key waits for its first message',
        ).to.deep.equal([]);
        release();
        await waitFor(() => handled.length === 100, {
          timeoutMs: 20_000,
          message: 'the slow key after release',
        });
        for (const key of keys) {
          const order = handled.filter((h) => h.startsWith(`${key}:`)).map((h) => Number(h.split(':')[1]));
          expect(order, `order of ${key}`).to.deep.equal([...Array(20).keys()]);
        }
      });

      it('limits deliveries in flight per partition (partitionConcurrency)', async function () {
        const kafka = await transport({ partitions: 1, consumer: { partitionConcurrency: 2 } });
        const { destination, source } = await orderedChannel(kafka);
        let inFlight = 0;
        let most = 0;
        let done = 0;
        consumers.push(
          await kafka.consume(
            source,
            async (d) => {
              most = Math.max(most, ++inFlight);
              await new Promise((resolve) => setTimeout(resolve, 2));
              inFlight--;
              done++;
              await d.ack();
            },
            { concurrency: 16 },
          ),
        );
        await kafka.publish(
          destination,
          Array.from({ length: 40 }, (_, i) => envelope(undefined, i)),
        );
        await waitFor(() => done === 40, { timeoutMs: 20_000, message: 'all 40' });
        expect(most).to.equal(2);
      });

      it('redelivers exactly the unsettled messages after a consumer closes', async function () {
        const kafka = await transport();
        const queue = uniqueName('q');
        await kafka.provision({ queues: [{ name: queue }] });
        const destination = { kind: 'queue', queue } as const;
        const source = { kind: 'queue', queue } as const;
        const left = new Set([2, 5, 6, 11, 15]);
        const seen = new Set<number>();
        const first = await kafka.consume(
          source,
          async (d) => {
            seen.add(seqOf(d));
            if (!left.has(seqOf(d))) await d.ack(); // the others are never settled: a crash mid-work
          },
          { concurrency: 32 },
        );
        consumers.push(first);
        await kafka.publish(
          destination,
          Array.from({ length: 20 }, (_, i) => envelope(undefined, i)),
        );
        await waitFor(() => seen.size === 20, { timeoutMs: 20_000, message: 'all 20 delivered once' });
        await first.close();

        const again: number[] = [];
        const attempts: number[] = [];
        let marker = false;
        consumers.push(
          await kafka.consume(
            source,
            async (d) => {
              if (d.envelope.type === 'test.Marker') marker = true;
              else {
                again.push(seqOf(d));
                attempts.push(d.attempt);
              }
              await d.ack();
            },
            { concurrency: 32 },
          ),
        );
        await kafka.publish(destination, [envelope(undefined, -1, 'test.Marker')]);
        // One partition per message is not guaranteed, so wait for the marker and for the five.
        await waitFor(() => marker && again.length >= left.size, {
          timeoutMs: 20_000,
          message: 'the redeliveries',
        });
        expect(again.sort((a, b) => a - b)).to.deep.equal([...left].sort((a, b) => a - b));
      });

      const rebalancings =
        client === 'platformatic' ? (['eager', 'cooperative'] as const) : (['eager'] as const);
      for (const rebalancing of rebalancings) {
        it(`loses nothing while members join and leave mid-stream (${rebalancing} rebalances)`, async function () {
          const kafka = await transport({ consumer: { rebalancing } });
          const channel = uniqueName('ch');
          const group = uniqueName('g');
          await kafka.provision({ channels: [{ name: channel }], subscriptions: [{ channel, group }] });
          const source = { kind: 'subscription', channel, group } as const;
          const received = new Set<string>();
          const byMember = [0, 0];
          const sink = (member: number) => async (d: Delivery) => {
            await new Promise((resolve) => setTimeout(resolve, 3));
            received.add(d.envelope.id);
            byMember[member]!++;
            await d.ack();
          };
          const a = await kafka.consume(source, sink(0), { concurrency: 4 });
          consumers.push(a);
          const sent = Array.from({ length: 1_500 }, (_, i) => envelope(`key-${i % 13}`, i));
          await kafka.publish({ kind: 'channel', channel }, sent);
          await waitFor(() => received.size >= 100, { timeoutMs: 20_000, message: 'the first 100' });
          const other = await transport({ consumer: { rebalancing } });
          const b = await other.consume(source, sink(1), { concurrency: 4 });
          consumers.push(b);
          await waitFor(() => byMember[1]! >= 50, {
            timeoutMs: 20_000,
            message: 'the new member to take partitions',
          });
          expect(received.size, 'still mid-stream when the member joined').to.be.below(sent.length);
          await a.close();
          await waitFor(() => received.size === sent.length, {
            timeoutMs: 30_000,
            message: 'every message at least once',
          });
        });
      }
    });
  }

  if (KAFKA_CLIENTS.length === 2) {
    describe('on both clients', function () {
      after(deleteTestTopics);

      it('shares one group between a kafkajs and a platformatic member (a rolling switch of clients)', async function () {
        const old = await testTransport({ client: 'kafkajs' });
        const next = await testTransport({ client: 'platformatic' });
        const consumers: Consumer[] = [];
        try {
          const channel = uniqueName('ch');
          const group = uniqueName('g');
          await old.provision({ channels: [{ name: channel }], subscriptions: [{ channel, group }] });
          const source = { kind: 'subscription', channel, group } as const;
          const received = new Set<string>();
          const byMember = [0, 0];
          const sink = (member: number) => async (d: Delivery) => {
            await new Promise((resolve) => setTimeout(resolve, 3));
            received.add(d.envelope.id);
            byMember[member]!++;
            await d.ack();
          };
          const a = await old.consume(source, sink(0), { concurrency: 4 });
          consumers.push(a);
          const sent = Array.from({ length: 1_200 }, (_, i) => envelope(`key-${i % 13}`, i));
          await old.publish({ kind: 'channel', channel }, sent.slice(0, 600));
          await waitFor(() => received.size >= 100, { timeoutMs: 20_000, message: 'the first 100' });
          // `consume` resolves once the new member has its partitions; what is published next is split.
          consumers.push(await next.consume(source, sink(1), { concurrency: 4 }));
          await old.publish({ kind: 'channel', channel }, sent.slice(600));
          await waitFor(() => byMember[1]! >= 50, {
            timeoutMs: 20_000,
            message: 'the platformatic member to take partitions from the kafkajs one',
          });
          expect(byMember[0], 'the kafkajs member consumed too').to.be.above(0);
          await a.close();
          await waitFor(() => received.size === sent.length, {
            timeoutMs: 30_000,
            message: 'every message at least once',
          });
        } finally {
          await Promise.allSettled(consumers.map((c) => c.close()));
          await Promise.allSettled([old.close(), next.close()]);
        }
      });
    });
  }
});
