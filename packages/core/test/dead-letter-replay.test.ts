import 'reflect-metadata';
import { expect } from 'chai';
import { Bus, Handle, MemoryTransport, Subscriber, constant, replayDeadLetters } from '../src/index.js';
import type { Envelope } from '../src/index.js';
import { uniqueName, waitFor } from '../src/testing/index.js';
import { contracts, type ProcessPaymentV1 } from './fixtures.js';

describe('replayDeadLetters', function () {
  let transport: MemoryTransport;
  let bus: Bus;
  let c: ReturnType<typeof contracts>;
  let calls: string[];
  let source: { readonly kind: 'queue'; readonly queue: string };

  beforeEach(async function () {
    transport = new MemoryTransport();
    c = contracts(uniqueName());
    calls = [];
    source = { kind: 'queue', queue: c.ProcessPayment.queue };
    const seen = calls;
    @Subscriber({ group: 'g' })
    class AlwaysFailing {
      @Handle(c.ProcessPayment, { retry: { attempts: 1 } })
      pay(cmd: ProcessPaymentV1) {
        seen.push(cmd.orderId);
        throw new Error('card declined');
      }
    }
    bus = new Bus({
      transport,
      serviceName: 'test',
      retry: { attempts: 1, backoff: constant(0) },
      handlers: [AlwaysFailing],
    });
    await bus.start();
    for (let i = 0; i < 5; i++) await bus.send(c.ProcessPayment, { orderId: `o${i}`, amount: 1 });
    await waitFor(() => bus.stats.deadLettered === 5, { message: 'five dead letters' });
  });
  afterEach(async function () {
    await bus.stop();
  });

  async function deadLetterIds(count: number): Promise<string[]> {
    const seen: Envelope[] = [];
    const consumer = await transport.consume(
      { kind: 'deadLetters', of: source },
      async (d) => {
        seen.push(d.envelope);
      },
      { concurrency: 100 },
    );
    await waitFor(() => seen.length >= count, { message: `${count} dead letters` });
    await consumer.close();
    return seen.map((e) => e.id);
  }

  it('ends while the bus runs and the message fails again, each dead letter replayed once', async function () {
    const replayed = await replayDeadLetters(transport, source, { idleMs: 60_000 });
    expect(replayed).to.equal(5);
    await waitFor(() => bus.stats.deadLettered === 10, { message: 'the five to fail again' });
    expect(calls.sort()).to.deep.equal(['o0', 'o0', 'o1', 'o1', 'o2', 'o2', 'o3', 'o3', 'o4', 'o4']);
    expect(await deadLetterIds(5)).to.have.length(5);
  });

  for (const limit of [1, 2, 4]) {
    it(`replays exactly limit: ${limit} of five, while the bus runs`, async function () {
      expect(await replayDeadLetters(transport, source, { limit, idleMs: 60_000 })).to.equal(limit);
      await waitFor(() => bus.stats.deadLettered === 5 + limit, { message: 'the replayed to fail again' });
      expect(calls).to.have.length(5 + limit);
    });
  }

  it('a second replay takes what the first left dead, including what failed again', async function () {
    expect(await replayDeadLetters(transport, source, { limit: 2 })).to.equal(2);
    await waitFor(() => bus.stats.deadLettered === 7, { message: 'the two to fail again' });
    expect(await replayDeadLetters(transport, source, { idleMs: 60_000 })).to.equal(5);
  });
});
