import 'reflect-metadata';
import { expect } from 'chai';
import type { MessageContext } from '../src/index.js';
import { Bus, ConfigurationError, Emits, Handle, MemoryTransport, Subscriber } from '../src/index.js';
import { getEmittedContract } from '../src/decorators.js';
import { uniqueName, waitFor } from '../src/testing/index.js';
import { contracts, type OrderPlacedV1, type ProcessPaymentV1 } from './fixtures.js';

describe('@Emits', function () {
  it('publishes the returned events with the bus outside a handler, and inside one joins its correlation', async function () {
    const c = contracts(uniqueName());
    const placed: { orderId: string; correlationId: string; causationId: string | undefined }[] = [];

    class OrderService {
      constructor(readonly bus: Bus) {}
      @Emits(c.OrderPlaced, (self: OrderService) => self.bus)
      async place(orderId: string): Promise<OrderPlacedV1> {
        return { orderId, total: 3 };
      }
      @Emits(c.OrderPlaced)
      async placeMany(ids: string[]): Promise<OrderPlacedV1[]> {
        return ids.map((orderId) => ({ orderId, total: 1 }));
      }
    }
    // eslint-disable-next-line prefer-const -- assigned once the bus exists; the handler class needs it first
    let service!: OrderService;
    @Subscriber({ group: 'g' })
    class Handlers {
      @Handle(c.ProcessPayment)
      async pay(cmd: ProcessPaymentV1) {
        await service.placeMany([`${cmd.orderId}-a`, `${cmd.orderId}-b`]);
      }
      @Handle(c.OrderPlaced)
      onPlaced(e: OrderPlacedV1, ctx: MessageContext) {
        placed.push({ orderId: e.orderId, correlationId: ctx.correlationId, causationId: ctx.causationId });
      }
    }
    const bus = new Bus({ transport: new MemoryTransport(), serviceName: 'orders', handlers: [Handlers] });
    service = new OrderService(bus);
    await bus.start();
    try {
      expect(getEmittedContract(OrderService.prototype, 'place')).to.equal(c.OrderPlaced);
      await service.place('o1');
      await bus.send(c.ProcessPayment, { orderId: 'o2', amount: 1 });
      await waitFor(() => placed.length === 3, { message: 'three OrderPlaced events' });
      const fromHandler = placed.filter((p) => p.orderId.startsWith('o2-'));
      expect(fromHandler).to.have.length(2);
      expect(fromHandler[0]!.correlationId).to.equal(fromHandler[1]!.correlationId);
      expect(fromHandler[0]!.causationId).to.be.a('string');
      const error = await service.placeMany(['x']).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(ConfigurationError);
    } finally {
      await bus.stop();
    }
  });
});
