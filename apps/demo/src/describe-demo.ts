import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryTransport, formatBusDescription } from '@omnibus/core';
import { InventoryService } from '@omnibus/inventory-service';
import { OrderService } from '@omnibus/order-service';
import { PaymentService } from '@omnibus/payment-service';
import { createAvro, readSampleConfig } from '@omnibus/sample-kit';

/**
 * `npm start -- --describe`: the buses of the three sample services as `bus.describe()` explains them
 * (every handler with its group, source, middleware, retry policy and timeout, and the topology), without
 * starting anything: nothing is connected, provisioned or written.
 */
export async function describeDemo(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'omnibus-describe-'));
  try {
    const transport = new MemoryTransport();
    const shared = (service: string) => ({
      config: readSampleConfig(service, {
        OMNIBUS_TRANSPORT: 'memory',
        OMNIBUS_SQLITE_PATH: join(dir, `${service}.db`),
      }),
      // Never reached: describing a bus encodes nothing.
      avro: createAvro('http://127.0.0.1:9'),
      transport,
      closeTransport: false,
    });
    const services = [
      new OrderService({
        ...shared('order-service'),
        fulfilment: { paymentTimeoutMs: 1_000, latePaymentGraceMs: 10_000 },
      }),
      new InventoryService(shared('inventory-service')),
      new PaymentService({ ...shared('payment-service'), lateMs: 1_800 }),
    ];
    return services.map((service) => formatBusDescription(service.bus.describe())).join('\n\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
