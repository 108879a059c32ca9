import 'reflect-metadata';
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryTransport, silentLogger } from '@omnibus/core';
import { INITIAL_STOCK, InventoryService } from '@omnibus/inventory-service';
import { OrderService } from '@omnibus/order-service';
import { createAvro, readSampleConfig, startLocalRegistry } from '@omnibus/sample-kit';

describe('GET /stock/:sku: the order service asks the inventory service over the bus', function () {
  this.timeout(30_000);
  let dir: string;
  let registry: Awaited<ReturnType<typeof startLocalRegistry>>;
  let orders: OrderService;
  let inventory: InventoryService;

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'omnibus-stock-query-'));
    registry = await startLocalRegistry();
    const transport = new MemoryTransport();
    const shared = (service: string) => ({
      config: readSampleConfig(service, {
        OMNIBUS_TRANSPORT: 'memory',
        OMNIBUS_SQLITE_PATH: join(dir, `${service}.db`),
      }),
      avro: createAvro(registry.url),
      transport,
      closeTransport: false,
      logger: silentLogger,
    });
    inventory = new InventoryService(shared('inventory-service'));
    orders = new OrderService({
      ...shared('order-service'),
      fulfilment: { paymentTimeoutMs: 10_000, latePaymentGraceMs: 60_000 },
    });
    await inventory.start();
    await orders.start();
  });

  afterEach(async function () {
    await orders.stop();
    await inventory.stop();
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers from the inventory stock table; an unknown SKU is 404', async function () {
    const known = await orders.api.inject({ method: 'GET', url: '/stock/limited-print' });
    expect(known.statusCode).to.equal(200);
    expect(known.json()).to.deep.equal({
      sku: 'limited-print',
      available: INITIAL_STOCK['limited-print'],
      reserved: 0,
    });
    const unknown = await orders.api.inject({ method: 'GET', url: '/stock/unicorn' });
    expect(unknown.statusCode).to.equal(404);
    expect(unknown.json()).to.include({ error: 'NOT_FOUND', message: 'no such sku unicorn' });
  });

  it('is 504 when the inventory service does not answer in time', async function () {
    await inventory.stop();
    const response = await orders.api.inject({ method: 'GET', url: '/stock/widget' });
    expect(response.statusCode).to.equal(504);
    expect(response.json()).to.include({ error: 'TIMEOUT' });
  });
});
