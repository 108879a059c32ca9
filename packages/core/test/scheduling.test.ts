import 'reflect-metadata';
import { expect } from 'chai';
import type { Logger, MemoryTransaction, MessageContext } from '../src/index.js';
import { Bus, Handle, MemoryPersistence, MemoryTransport, Subscriber, constant } from '../src/index.js';
import { runScheduleConformance, uniqueName, waitFor } from '../src/testing/index.js';
import { contracts, type OrderPlacedV1, type ProcessPaymentV1 } from './fixtures.js';

runScheduleConformance<MemoryTransaction>('memory', {
  async createPersistence() {
    const persistence = new MemoryPersistence();
    return {
      persistence,
      async createTable() {}, // tables appear with their first write
      async insert(tx, table, key) {
        tx.put(table, String(key), key);
      },
      async keys(table) {
        return [...persistence.table(table).values()].map(Number).sort((a, b) => a - b);
      },
      async close() {},
    };
  },
});

describe('scheduling without persistence (in-process timers)', function () {
  let c: ReturnType<typeof contracts>;
  const buses: Bus[] = [];
  beforeEach(() => (c = contracts(uniqueName())));
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.stop()));
  });

  function recordingLogger(lines: string[]): Logger {
    return {
      debug: () => undefined,
      info: () => undefined,
      warn: (_fields, message) => void lines.push(message),
      error: () => undefined,
    };
  }

  it('delivers at the due time, cancels and reschedules, and warns once, at the first schedule, that nothing survives a restart', async function () {
    const placed: { id: string; at: number }[] = [];
    @Subscriber({ group: 'g' })
    class Handlers {
      @Handle(c.OrderPlaced)
      placed(e: OrderPlacedV1) {
        placed.push({ id: e.orderId, at: Date.now() });
      }
    }
    const warnings: string[] = [];
    const bus = new Bus({
      transport: new MemoryTransport(),
      serviceName: 's',
      handlers: [Handlers],
      logger: recordingLogger(warnings),
    });
    buses.push(bus);
    await bus.start();
    expect(warnings).to.deep.equal([], 'a bus that never schedules says nothing');
    const soon = await bus.publish(c.OrderPlaced, { orderId: 'soon', total: 1 }, { delayMs: 150 });
    const cancelled = await bus.publish(c.OrderPlaced, { orderId: 'cancelled', total: 1 }, { delayMs: 100 });
    const moved = await bus.publish(c.OrderPlaced, { orderId: 'moved', total: 1 }, { delayMs: 3_600_000 });
    expect(warnings.filter((line) => line.includes('do not survive a restart'))).to.have.length(1);
    expect((await bus.schedules.list()).map((s) => s.id)).to.deep.equal([cancelled.id, soon.id, moved.id]);
    expect((await bus.health()).details!.outbox).to.deep.include({
      scheduled: { pending: 3, nextDueAt: cancelled.deliverAt },
    });
    expect(await bus.schedules.cancel(cancelled.id)).to.equal(true);
    expect(await bus.schedules.reschedule(moved.id, new Date(Date.now() + 300))).to.equal(true);
    await waitFor(() => placed.length === 2, { message: 'soon and moved delivered' });
    expect(placed.map((p) => p.id)).to.deep.equal(['soon', 'moved'], 'the cancelled one never');
    expect(placed[0]!.at).to.be.at.least(soon.deliverAt.getTime());
    expect(await bus.schedules.cancel(soon.id)).to.equal(false, 'delivered already');
    expect(await bus.schedules.list()).to.deep.equal([]);
  });

  it('makes a handler’s schedules only once it succeeds', async function () {
    const paid: string[] = [];
    @Subscriber({ group: 'g' })
    class Handlers {
      @Handle(c.OrderPlaced)
      async placed(e: OrderPlacedV1, ctx: MessageContext) {
        await ctx.send(c.ProcessPayment, { orderId: e.orderId, amount: e.total }, { delayMs: 0 });
        if (e.total < 0) throw new Error('poison');
      }
      @Handle(c.ProcessPayment)
      pay(cmd: ProcessPaymentV1) {
        paid.push(cmd.orderId);
      }
    }
    const bus = new Bus({
      transport: new MemoryTransport(),
      serviceName: 's',
      handlers: [Handlers],
      retry: { attempts: 2, backoff: constant(0) },
    });
    buses.push(bus);
    await bus.start();
    await bus.publish(c.OrderPlaced, { orderId: 'bad', total: -1 });
    await waitFor(() => bus.stats.deadLettered === 1, { message: 'the poison dead-lettered' });
    await bus.publish(c.OrderPlaced, { orderId: 'ok', total: 1 });
    await waitFor(() => paid.length === 1, { message: 'the good one’s payment' });
    expect(paid).to.deep.equal(['ok']);
  });

  it('refuses a schedule on a persistence without a schedule store, naming the field', async function () {
    const { unitOfWork, inbox, outbox } = new MemoryPersistence();
    const bus = new Bus({
      transport: new MemoryTransport(),
      serviceName: 's',
      persistence: { unitOfWork, inbox, outbox },
    });
    buses.push(bus);
    await bus.start();
    const error = await bus
      .publish(c.OrderPlaced, { orderId: 'x', total: 1 }, { delayMs: 10 })
      .catch((e: unknown) => e);
    expect(error).to.include({ code: 'INVALID_CONFIGURATION', field: 'persistence.schedules' });
  });
});
