import 'reflect-metadata';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryTransport, silentLogger } from '@omnibus/core';
import { INITIAL_STOCK, InventoryService } from '@omnibus/inventory-service';
import { OrderService } from '@omnibus/order-service';
import { PaymentService } from '@omnibus/payment-service';
import type { SampleConfig } from '@omnibus/sample-kit';
import { ProcessPayment, createAvro, readSampleConfig, startLocalRegistry } from '@omnibus/sample-kit';
import { DeadLetterWatch } from './dead-letter-watch.js';
import type { SampleOutcome } from './invariants.js';
import { violations } from './invariants.js';
import { Timeline } from './timeline.js';

/** The orders `npm start` places: one per path through the saga. */
export const DEMO_ORDERS = [
  { customerId: 'alice', lines: [{ sku: 'widget', quantity: 2 }], path: 'confirmed' },
  { customerId: 'bob', lines: [{ sku: 'sold-out', quantity: 1 }], path: 'rejected: out of stock' },
  { customerId: 'carol-decline', lines: [{ sku: 'gadget', quantity: 1 }], path: 'cancelled: card declined' },
  {
    customerId: 'dave-flaky',
    lines: [{ sku: 'gizmo', quantity: 3 }],
    path: 'confirmed after a transient failure',
  },
  {
    customerId: 'erin-late',
    lines: [{ sku: 'widget', quantity: 1 }],
    path: 'cancelled on timeout, late charge refunded',
  },
] as const;

export const POISON_ID = '019a0000-0000-7000-8000-00000000dead';

export interface DemoResult extends SampleOutcome {
  readonly timeline: Timeline;
  readonly violations: readonly string[];
  readonly elapsedMs: number;
  /** Saga timeouts still waiting in the order service at the end: none, every finished order cancelled its own. */
  readonly pendingSchedules: number;
}

/**
 * `npm start`: the order, inventory and payment services in this process, on one in-memory bus, each with
 * its SQLite file in a temporary folder (or its PostgreSQL schema) and the Avro contracts through a registry in process. Places
 * `DEMO_ORDERS` and one poison command, waits until every order is final and the late charge refunded,
 * stops everything and returns what the services hold.
 */
export interface DemoOptions {
  /** Keep the services' tables in PostgreSQL instead (`postgres://...`), one schema per service. */
  readonly databaseUrl?: string;
  /** Put before each service's schema name (e.g. a test run's own). */
  readonly schemaPrefix?: string;
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'omnibus-demo-'));
  const registry = await startLocalRegistry();
  const transport = new MemoryTransport();
  const timeline = new Timeline();
  const config = (service: string): SampleConfig =>
    readSampleConfig(service, {
      OMNIBUS_TRANSPORT: 'memory',
      OMNIBUS_SQLITE_PATH: join(dir, `${service}.db`),
      OMNIBUS_DATABASE_URL: options.databaseUrl,
      OMNIBUS_DATABASE_SCHEMA: `${options.schemaPrefix ?? ''}${service.replaceAll('-', '_')}`,
    });
  const shared = (service: string) => ({
    config: config(service),
    avro: createAvro(registry.url),
    transport,
    closeTransport: false,
    middleware: [timeline.middleware(service)],
    // The timeline shows every failure; the bus's warnings on stderr would repeat them.
    logger: silentLogger,
  });
  const orders = new OrderService({
    ...shared('order-service'),
    fulfilment: { paymentTimeoutMs: 1_000, latePaymentGraceMs: 10_000 },
  });
  const inventory = new InventoryService(shared('inventory-service'));
  const payments = new PaymentService({ ...shared('payment-service'), lateMs: 1_800 });
  try {
    await inventory.start();
    await payments.start();
    await orders.start();
    const watch = await DeadLetterWatch.start(transport, (dead) =>
      timeline.record('operator', `dead letter ${dead.type} on ${dead.of}: ${dead.reason} [${dead.code}]`),
    );
    timeline.record('demo', 'three services started on one in-memory bus, each with its SQLite file');
    for (const [index, order] of DEMO_ORDERS.entries()) {
      const orderId = await orders.placeOrder(order.customerId, order.lines);
      timeline.name(orderId, `#${index + 1} ${order.customerId}`);
      timeline.record('demo', `placed #${index + 1} for ${order.customerId}: expect ${order.path}`);
    }
    // A broken upstream sends a payment no gateway can take: it ends in the dead-letter queue.
    timeline.name(POISON_ID, 'poison');
    await orders.bus.send(
      ProcessPayment,
      {
        paymentId: POISON_ID,
        orderId: POISON_ID,
        customerId: 'mallory',
        amount: '-5.00',
        currency: 'EUR',
        requestedAt: new Date(),
      },
      { id: POISON_ID },
    );
    timeline.record('demo', 'sent 1 poison command (a negative amount)');

    const deadline = Date.now() + 12_000;
    const settled = async (): Promise<boolean> => {
      const all = await orders.orders.list();
      const ledger = await payments.ledger();
      return (
        all.every((order) => ['confirmed', 'rejected', 'cancelled'].includes(order.status)) &&
        ledger.some((entry) => entry.kind === 'refund') &&
        watch.seen.length >= 1
      );
    };
    while (!(await settled())) {
      if (Date.now() > deadline) throw new Error('the demo did not settle within 12 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await watch.stop();
    const pendingSchedules = (await orders.bus.schedules.list()).length;
    const outcome: SampleOutcome = {
      orders: await Promise.all(
        (await orders.orders.list()).map(async (o) => (await orders.orders.get(o.orderId))!),
      ),
      ledger: await payments.ledger(),
      stock: await inventory.stock(),
      initialStock: INITIAL_STOCK,
      notifications: await orders.orders.notifications(),
      deadLetters: watch.seen,
      poisonIds: [POISON_ID],
    };
    timeline.record('demo', 'every order is final; stopping');
    return {
      ...outcome,
      timeline,
      violations: violations(outcome),
      elapsedMs: Date.now() - started,
      pendingSchedules,
    };
  } finally {
    await orders.stop();
    await payments.stop();
    await inventory.stop();
    await transport.close();
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  }
}
