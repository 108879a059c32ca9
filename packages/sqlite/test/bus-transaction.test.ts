import 'reflect-metadata';
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import type { MessageContext } from '@omnibus/core';
import { Bus, Emits, Handle, MemoryTransport, Subscriber, defineEvent } from '@omnibus/core';
import { uniqueName, waitFor } from '@omnibus/core/testing';
import { SqlitePersistence } from '../src/index.js';

interface OrderPlacedV1 {
  orderId: string;
}

describe('bus.transaction on SQLite', function () {
  let directory: string;
  beforeEach(() => (directory = mkdtempSync(join(tmpdir(), 'omnibus-sqlite-tx-'))));
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('joins every publish made while it runs: when it throws, nothing is written or delivered', async function () {
    const OrderPlaced = defineEvent<OrderPlacedV1>({ type: 'orders.OrderPlaced', channel: uniqueName() });
    const placed: string[] = [];
    @Subscriber({ group: 'g' })
    class Handlers {
      @Handle(OrderPlaced)
      placed(e: OrderPlacedV1) {
        placed.push(e.orderId);
      }
    }
    class OrderService {
      constructor(readonly bus: Bus) {}
      @Emits(OrderPlaced, (self: OrderService) => self.bus)
      async place(orderId: string): Promise<OrderPlacedV1> {
        return { orderId };
      }
    }
    const persistence = new SqlitePersistence({ path: join(directory, 'app.db') });
    await persistence.start();
    const bus = new Bus({
      transport: new MemoryTransport(),
      serviceName: 's',
      handlers: [Handlers],
      persistence,
      outboxRelay: { pollIntervalMs: 10 },
    });
    const service = new OrderService(bus);
    await bus.start();
    try {
      persistence.database.exec('CREATE TABLE orders (id TEXT PRIMARY KEY)');
      const failure = new Error('rolled back');
      const thrown = await bus
        .transaction(async ({ publish }) => {
          persistence.database.prepare('INSERT INTO orders (id) VALUES (?)').run('o1');
          await service.place('emits');
          await bus.publish(OrderPlaced, { orderId: 'bus' });
          await publish(OrderPlaced, { orderId: 'scope' });
          throw failure;
        })
        .catch((error: unknown) => error);
      expect(thrown).to.equal(failure);
      const count = (sql: string) => persistence.database.prepare(sql).get()!.n;
      expect(count('SELECT count(*) AS n FROM orders')).to.equal(0);
      expect(count('SELECT count(*) AS n FROM omnibus_outbox')).to.equal(0);
      await bus.transaction(async () => {
        await service.place('committed');
      });
      await waitFor(() => placed.length > 0, { message: 'the committed event' });
      await bus.publish(OrderPlaced, { orderId: 'after' });
      await waitFor(() => placed.length === 2, { message: 'the event published directly' });
      expect(placed).to.deep.equal(['committed', 'after']);
    } finally {
      await bus.stop();
      await persistence.close();
    }
  });
});

describe('the transaction type on SQLite', function () {
  let directory: string;
  beforeEach(() => (directory = mkdtempSync(join(tmpdir(), 'omnibus-sqlite-tx-'))));
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('types ctx.tx and bus.transaction’s tx as DatabaseSync, without a cast', async function () {
    const OrderPlaced = defineEvent<OrderPlacedV1>({ type: 'orders.OrderPlaced', channel: uniqueName() });
    @Subscriber({ group: 'g' })
    class Handlers {
      @Handle(OrderPlaced)
      placed(e: OrderPlacedV1, ctx: MessageContext<DatabaseSync>) {
        ctx.tx.prepare('INSERT INTO orders (id) VALUES (?)').run(e.orderId);
        // @ts-expect-error a DatabaseSync is not a pg client: it has no query()
        const client: { query(sql: string): unknown } = ctx.tx;
        void client;
      }
    }
    const persistence = new SqlitePersistence({ path: join(directory, 'app.db') });
    await persistence.start();
    const bus = new Bus({
      transport: new MemoryTransport(),
      serviceName: 's',
      handlers: [Handlers],
      persistence,
      outboxRelay: { pollIntervalMs: 10 },
    });
    const typed: Bus<DatabaseSync> = bus;
    // @ts-expect-error the bus's transaction type is inferred from the persistence, not any other
    const wrong: Bus<{ query(sql: string): unknown }> = bus;
    void wrong;
    await bus.start();
    try {
      persistence.database.exec('CREATE TABLE orders (id TEXT PRIMARY KEY)');
      await typed.transaction(async ({ tx, publish }) => {
        tx.prepare('INSERT INTO orders (id) VALUES (?)').run('direct');
        await publish(OrderPlaced, { orderId: 'from-handler' });
      });
      const ids = () =>
        persistence.database
          .prepare('SELECT id FROM orders ORDER BY id')
          .all()
          .map((row) => row.id);
      await waitFor(() => ids().length === 2, { message: 'the handler’s row' });
      expect(ids()).to.deep.equal(['direct', 'from-handler']);
    } finally {
      await bus.stop();
      await persistence.close();
    }
  });
});
