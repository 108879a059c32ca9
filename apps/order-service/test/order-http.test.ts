import 'reflect-metadata';
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAvro, readSampleConfig, startLocalRegistry } from '@omnibus/sample-kit';
import { OrderService } from '../src/index.js';

describe('the order service HTTP API', function () {
  let dir: string;
  let registry: Awaited<ReturnType<typeof startLocalRegistry>>;
  let service: OrderService;

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'omnibus-order-http-'));
    registry = await startLocalRegistry();
    service = new OrderService({
      config: readSampleConfig('order-service', { OMNIBUS_SQLITE_PATH: join(dir, 'orders.db') }),
      avro: createAvro(registry.url),
      fulfilment: { paymentTimeoutMs: 10_000, latePaymentGraceMs: 60_000 },
    });
  });
  afterEach(async function () {
    await service.stop();
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('places an order (202 with its id and location) and shows it with its history', async function () {
    await service.start();
    const placed = await service.api.inject({
      method: 'POST',
      url: '/orders',
      payload: { customerId: 'alice', lines: [{ sku: 'widget', quantity: 2 }] },
    });
    expect(placed.statusCode).to.equal(202);
    const { orderId } = placed.json<{ orderId: string }>();
    expect(placed.headers.location).to.equal(`/orders/${orderId}`);
    const shown = await service.api.inject({ method: 'GET', url: `/orders/${orderId}` });
    expect(shown.statusCode).to.equal(200);
    const order = shown.json<{ totalCents: number; customerId: string; history: { what: string }[] }>();
    expect(order).to.include({ totalCents: 2_500, customerId: 'alice' });
    expect(order.history[0]!.what).to.equal('placed');
  });

  it('refuses what it cannot take with 400 and the reason; an unknown order is 404', async function () {
    await service.start();
    const cases: [unknown, string][] = [
      [{ customerId: 'a', lines: [{ sku: 'unicorn', quantity: 1 }] }, 'unknown sku "unicorn"'],
      [{ customerId: 'a', lines: [{ sku: 'widget', quantity: 0 }] }, 'quantity'],
      [{ customerId: 'a', lines: [] }, 'lines'],
      [{ lines: [{ sku: 'widget', quantity: 1 }] }, 'customerId'],
    ];
    for (const [payload, reason] of cases) {
      const response = await service.api.inject({
        method: 'POST',
        url: '/orders',
        payload: payload as object,
      });
      expect(response.statusCode, JSON.stringify(payload)).to.equal(400);
      expect(response.json<{ message: string }>().message).to.contain(reason);
    }
    expect((await service.orders.list()).length).to.equal(0);
    const missing = await service.api.inject({ method: 'GET', url: '/orders/nope' });
    expect(missing.statusCode).to.equal(404);
  });

  it('answers /healthz and /readyz from the bus and the database: 503 before start, 200 once it runs', async function () {
    expect((await service.api.inject({ method: 'GET', url: '/healthz' })).statusCode).to.equal(503);
    expect((await service.api.inject({ method: 'GET', url: '/readyz' })).statusCode).to.equal(503);
    await service.start();
    const ready = await service.api.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).to.equal(200);
    expect(ready.json<{ ready: boolean; database: string; bus: { status: string } }>()).to.deep.include({
      ready: true,
      database: 'up',
    });
    expect(ready.json<{ bus: { status: string } }>().bus.status).to.equal('up');
    expect((await service.api.inject({ method: 'GET', url: '/healthz' })).statusCode).to.equal(200);
  });
});
