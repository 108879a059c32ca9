import 'reflect-metadata';
import { expect } from 'chai';
import type { MessageContext, Persistence } from '../src/index.js';
import {
  Bus,
  Emits,
  Handle,
  MemoryPersistence,
  MemoryTransport,
  PersistenceUnavailableError,
  Subscriber,
  constant,
} from '../src/index.js';
import { uniqueName, waitFor } from '../src/testing/index.js';
import { contracts, type OrderPlacedV1, type ProcessPaymentV1 } from './fixtures.js';

describe('Bus with persistence', function () {
  let c: ReturnType<typeof contracts>;
  const buses: Bus[] = [];
  beforeEach(() => (c = contracts(uniqueName())));
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.stop()));
  });

  it('publishes through the outbox with the relay it runs, and skips duplicates without counting them as handled', async function () {
    const placed: string[] = [];
    @Subscriber({ group: 'g' })
    class Handlers {
      @Handle(c.ProcessPayment)
      async pay(cmd: ProcessPaymentV1, ctx: MessageContext) {
        await ctx.publish(c.OrderPlaced, { orderId: cmd.orderId, total: cmd.amount });
      }
      @Handle(c.OrderPlaced)
      placed(e: OrderPlacedV1) {
        placed.push(e.orderId);
      }
    }
    const persistence = new MemoryPersistence();
    const transport = new MemoryTransport();
    const bus = new Bus({
      transport,
      serviceName: 's',
      handlers: [Handlers],
      persistence,
      outboxRelay: { pollIntervalMs: 10 },
    });
    buses.push(bus);
    await bus.start();
    await bus.send(c.ProcessPayment, { orderId: 'o1', amount: 5 }, { id: 'fixed-id' });
    await waitFor(() => placed.length === 1, { message: 'the event published by the relay' });
    await bus.send(c.ProcessPayment, { orderId: 'o1', amount: 5 }, { id: 'fixed-id' });
    await waitFor(() => bus.stats.duplicates === 1, { message: 'the duplicate recognised' });
    expect(bus.stats.handled).to.equal(2); // the command once, the event once
    expect((await bus.health()).details).to.have.property('outbox');
  });

  it('waits out a database outage without spending the retry budget', async function () {
    let outage = 6;
    const memory = new MemoryPersistence();
    const flaky: Persistence = {
      ...memory,
      unitOfWork: {
        transaction: (work) => {
          if (outage > 0) {
            outage--;
            return Promise.reject(new PersistenceUnavailableError('database unreachable'));
          }
          return memory.unitOfWork.transaction(work);
        },
      },
    };
    const handled: string[] = [];
    @Subscriber({ group: 'g' })
    class Handlers {
      @Handle(c.ProcessPayment)
      pay(cmd: ProcessPaymentV1) {
        handled.push(cmd.orderId);
      }
    }
    const bus = new Bus({
      transport: new MemoryTransport(),
      serviceName: 's',
      handlers: [Handlers],
      persistence: flaky,
      outboxRelay: false,
      retry: { attempts: 2, backoff: constant(0) },
    });
    buses.push(bus);
    await bus.start();
    await bus.send(c.ProcessPayment, { orderId: 'o1', amount: 1 });
    await waitFor(() => handled.length === 1, { message: 'the message handled after the outage' });
    expect(bus.stats.deadLettered).to.equal(0);
    expect(bus.stats.retried).to.equal(6);
  });

  it('joins bus.transaction whichever API publishes: a transaction that throws sends nothing', async function () {
    const placed: string[] = [];
    @Subscriber({ group: 'g' })
    class Handlers {
      @Handle(c.OrderPlaced)
      placed(e: OrderPlacedV1) {
        placed.push(e.orderId);
      }
    }
    class OrderService {
      constructor(readonly bus: Bus) {}
      @Emits(c.OrderPlaced, (self: OrderService) => self.bus)
      async place(orderId: string): Promise<OrderPlacedV1> {
        return { orderId, total: 1 };
      }
    }
    const bus = new Bus({
      transport: new MemoryTransport(),
      serviceName: 's',
      handlers: [Handlers],
      persistence: new MemoryPersistence(),
      outboxRelay: { pollIntervalMs: 10 },
    });
    buses.push(bus);
    const service = new OrderService(bus);
    await bus.start();
    const failure = new Error('rolled back');
    const thrown = await bus
      .transaction(async ({ publish }) => {
        await service.place('emits');
        await bus.publish(c.OrderPlaced, { orderId: 'bus', total: 1 });
        await publish(c.OrderPlaced, { orderId: 'scope', total: 1 });
        throw failure;
      })
      .catch((error: unknown) => error);
    expect(thrown).to.equal(failure);
    await bus.transaction(async () => {
      await service.place('committed');
    });
    await waitFor(() => placed.length > 0, { message: 'the committed event' });
    await bus.publish(c.OrderPlaced, { orderId: 'after', total: 1 });
    await waitFor(() => placed.length === 2, { message: 'the event published directly' });
    expect(placed).to.deep.equal(['committed', 'after']);
  });
});
