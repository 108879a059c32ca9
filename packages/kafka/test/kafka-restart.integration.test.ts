import { expect } from 'chai';
import type { Envelope } from '@omnibus/core';
import type { Consumer } from '@omnibus/core/transport';
import { Header, uuidv7 } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import type { KafkaTransport } from '../src/index.js';
import {
  KAFKA_CLIENTS,
  deleteTestTopics,
  probeKafka,
  restartKafka,
  testTransport,
} from './kafka-test-support.js';

function envelope(seq: number): Envelope {
  const id = uuidv7();
  return {
    id,
    type: 'test.Flowing',
    key: `k${seq % 17}`,
    headers: { [Header.specVersion]: '1.0', [Header.contentType]: 'application/json' },
    body: Buffer.from(JSON.stringify({ seq })),
  };
}

/**
 * The sample's order service reads one channel with two groups (the saga and the order history); after a
 * broker restart one of them once stopped for good while the other went on. One process, several groups
 * on one topic, messages flowing while the broker restarts: every group must receive everything.
 */
describeIntegration('kafka broker restart with several groups on one topic', probeKafka, () => {
  after(deleteTestTopics);

  for (const client of KAFKA_CLIENTS) {
    describe(`on ${client}`, function () {
      const consumers: Consumer[] = [];
      let kafka: KafkaTransport | undefined;

      afterEach(async function () {
        await Promise.allSettled(consumers.splice(0).map((c) => c.close()));
        await kafka?.close();
      });

      it('every group receives every message published before, during and after the restart', async function () {
        this.timeout(8 * 60_000);
        // The production consumer settings, as the sample runs them.
        kafka = await testTransport({
          client,
          consumer: {
            sessionTimeoutMs: 30_000,
            heartbeatIntervalMs: 3_000,
            rebalanceTimeoutMs: 60_000,
            maxWaitTimeMs: 500,
          },
        });
        const channel = uniqueName('flow');
        const groups = ['saga', 'history', 'notifier', 'audit'].map((g) => uniqueName(g));
        await kafka.provision({
          channels: [{ name: channel }],
          subscriptions: groups.map((group) => ({ channel, group })),
        });
        const received = new Map<string, Set<string>>(groups.map((g) => [g, new Set<string>()]));
        for (const group of groups) {
          const seen = received.get(group)!;
          consumers.push(
            await kafka.consume(
              { kind: 'subscription', channel, group },
              async (d) => {
                // Handlers take a while and some fail once, as the sample's do: while the broker is away a
                // retry cannot be written, the settlement rejects and the delivery is left unsettled (what
                // the bus does when settling fails).
                await new Promise((resolve) => setTimeout(resolve, 5));
                if (d.attempt === 1 && Number(d.envelope.key!.slice(1)) % 5 === 0) {
                  await d.retry(20);
                  return;
                }
                seen.add(d.envelope.id);
                await d.ack();
              },
              { concurrency: 4 },
            ),
          );
        }
        const sent: string[] = [];
        let stop = false;
        const publishing = (async () => {
          let seq = 0;
          while (!stop) {
            const batch = Array.from({ length: 5 }, () => envelope(seq++));
            // The application's rule: a publish that was not confirmed is published again.
            await waitFor(
              () =>
                kafka!.publish({ kind: 'channel', channel }, batch).then(
                  () => true,
                  () => false,
                ),
              { timeoutMs: 120_000, intervalMs: 200, message: 'the broker to accept publishes again' },
            );
            sent.push(...batch.map((e) => e.id));
            await new Promise((resolve) => setImmediate(resolve));
          }
        })();
        await waitFor(() => sent.length >= 500, { timeoutMs: 60_000, message: '500 messages sent' });
        await restartKafka();
        const afterRestart = sent.length;
        await waitFor(() => sent.length >= afterRestart + 1_000, {
          timeoutMs: 120_000,
          message: '1,000 messages sent after the restart',
        });
        stop = true;
        await publishing;
        const missing = (): string =>
          groups.map((g) => `${g}: ${sent.length - received.get(g)!.size} missing`).join(', ');
        await waitFor(() => groups.every((g) => sent.every((id) => received.get(g)!.has(id))), {
          timeoutMs: 150_000,
          message: `every group to receive all ${sent.length} messages`,
        }).catch((error: Error) => {
          throw new Error(`${error.message} (${missing()})`);
        });
        for (const group of groups) expect(received.get(group)!.size).to.equal(sent.length);
      });
    });
  }
});
