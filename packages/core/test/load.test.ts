import 'reflect-metadata';
import { expect } from 'chai';
import type { Envelope, MessageContext } from '../src/index.js';
import {
  Bus,
  Handle,
  MemoryTransport,
  NonRetriableError,
  Subscriber,
  constant,
  readFailure,
} from '../src/index.js';
import { uniqueName, waitFor } from '../src/testing/index.js';
import { contracts, type ProcessPaymentV1 } from './fixtures.js';

describe('10,000 messages through one group, concurrency 8, random failures', function () {
  this.timeout(60_000);

  it('loses none, handles none twice after success, and dead-letters the poison with reasons', async function () {
    const c = contracts(uniqueName());
    const total = 10_000;
    const succeeded = new Map<string, number>();
    // Deterministic pseudo-random failures (a seeded LCG), so a failure can be reproduced.
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const poison = (amount: number) => amount % 997 === 0;

    @Subscriber({ group: 'payments', concurrency: 8 })
    class Payments {
      @Handle(c.ProcessPayment)
      async pay(cmd: ProcessPaymentV1, _ctx: MessageContext) {
        if (poison(cmd.amount)) throw new NonRetriableError(`poison amount ${cmd.amount}`);
        await Promise.resolve();
        if (random() < 0.2) throw new Error('transient gateway failure');
        succeeded.set(cmd.orderId, (succeeded.get(cmd.orderId) ?? 0) + 1);
      }
    }
    const transport = new MemoryTransport();
    const bus = new Bus({
      transport,
      serviceName: 'load',
      handlers: [Payments],
      retry: { attempts: 20, backoff: constant(0) },
    });
    await bus.start();
    const poisonCount = Array.from({ length: total }, (_, i) => i).filter(poison).length;
    for (let i = 0; i < total; i++) await bus.send(c.ProcessPayment, { orderId: `o${i}`, amount: i });
    await waitFor(() => succeeded.size + bus.stats.deadLettered === total, {
      timeoutMs: 50_000,
      message: 'every message handled or dead-lettered',
    });
    const dead: Envelope[] = [];
    const reader = await transport.consume(
      { kind: 'deadLetters', of: { kind: 'queue', queue: c.ProcessPayment.queue } },
      async (d) => {
        dead.push(d.envelope);
        await d.ack();
      },
      { concurrency: 64 },
    );
    await waitFor(() => dead.length === poisonCount, { message: `${poisonCount} dead letters` });
    await reader.close();
    await bus.stop();

    expect(succeeded.size).to.equal(total - poisonCount);
    expect(
      [...succeeded.values()].every((n) => n === 1),
      'handled twice after success',
    ).to.equal(true);
    expect(bus.stats.deadLettered).to.equal(poisonCount);
    expect(bus.stats.retried).to.be.greaterThan(1_000);
    for (const envelope of dead) {
      expect(readFailure(envelope)).to.include({ code: 'NON_RETRIABLE', attempts: 1 });
      expect(readFailure(envelope)!.message).to.match(/^poison amount \d+$/);
    }
  });
});
