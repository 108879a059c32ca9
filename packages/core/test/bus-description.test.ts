import 'reflect-metadata';
import { expect } from 'chai';
import type { Middleware } from '../src/index.js';
import {
  Bus,
  Handle,
  MemoryPersistence,
  MemoryTransport,
  Subscriber,
  constant,
  exponential,
  formatBusDescription,
} from '../src/index.js';
import { uniqueName } from '../src/testing/index.js';
import { contracts } from './fixtures.js';

describe('bus.describe()', function () {
  it('lists every handler with its group, source, middleware, retry policy and timeout, and the topology', function () {
    const c = contracts(uniqueName());
    @Subscriber({ group: 'billing', concurrency: 4 })
    class Billing {
      @Handle(c.OrderPlaced, {
        timeoutMs: 2_000,
        retry: { attempts: 3, immediate: 1, backoff: constant(50) },
      })
      placed() {}
    }
    @Subscriber({ group: 'payments' })
    class Payments {
      @Handle(c.ProcessPayment)
      pay() {}
    }
    const audit: Middleware = function audit(_ctx, next) {
      return next();
    };
    const bus = new Bus({
      transport: new MemoryTransport(),
      serviceName: 'shop',
      handlers: [Billing, Payments],
      persistence: new MemoryPersistence(),
      circuitBreaker: {},
      middleware: [audit],
      retry: { backoff: exponential({ initialMs: 100 }) },
    });
    const description = bus.describe();
    expect(description).to.deep.include({
      service: 'shop',
      transport: 'MemoryTransport',
      persistence: 'MemoryPersistence',
    });
    expect(description.handlers).to.deep.equal([
      {
        handler: 'Billing.placed',
        messageType: 'orders.OrderPlaced',
        contract: 'event',
        group: 'billing',
        source: `subscription ${c.OrderPlaced.channel}/billing`,
        concurrency: 4,
        middleware: [
          'correlation',
          'circuit breaker',
          'timeout 2000 ms',
          'immediate retry ×1',
          'unit of work',
          'audit',
        ],
        retry: { attempts: 3, immediate: 1, backoff: 'constant 50 ms' },
        timeoutMs: 2_000,
      },
      {
        handler: 'Payments.pay',
        messageType: 'payments.ProcessPayment',
        contract: 'command',
        group: 'payments',
        source: `queue ${c.ProcessPayment.queue}`,
        concurrency: 16,
        middleware: ['correlation', 'circuit breaker', 'unit of work', 'audit'],
        retry: { attempts: 5, immediate: 0, backoff: 'exponential 100 ms ×2 up to 30000 ms, full jitter' },
        timeoutMs: undefined,
      },
    ]);
    expect(description.topology).to.deep.equal({
      channels: [{ name: c.OrderPlaced.channel, ordered: false }],
      queues: [{ name: c.ProcessPayment.queue, ordered: false, maxDeliveries: 6 }],
      subscriptions: [
        { channel: c.OrderPlaced.channel, group: 'billing', types: ['orders.OrderPlaced'], maxDeliveries: 4 },
      ],
    });
    const text = formatBusDescription(description);
    expect(text).to.include('shop on MemoryTransport, persistence MemoryPersistence');
    expect(text).to.include('orders.OrderPlaced (event) → Billing.placed');
    expect(text).to.include(
      `group billing, from subscription ${c.OrderPlaced.channel}/billing, concurrency 4`,
    );
    expect(text).to.include(
      'middleware: correlation → circuit breaker → timeout 2000 ms → immediate retry ×1 → unit of work → audit → handler',
    );
    expect(text).to.include('retry: 3 attempts, 1 immediate, backoff constant 50 ms');
    expect(text).to.include(`queue ${c.ProcessPayment.queue}, max deliveries 6`);
    expect(text).to.include(
      `subscription ${c.OrderPlaced.channel}/billing: orders.OrderPlaced, max deliveries 4`,
    );
  });
});
