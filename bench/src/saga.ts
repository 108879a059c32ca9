/**
 * `npm run bench -- saga [instances] [concurrency] [sqlite,postgres]`: saga steps over the in-memory transport, on SQLite
 * (a file, WAL) and PostgreSQL.
 *
 * An order saga of three steps (OrderPlaced starts it, StockReserved, PaymentSucceeded completes it),
 * each step publishing one event through the outbox. `instances` (default 2,000) orders go through in
 * three waves (all starts, then all reservations, then all payments), so steps of one instance never race
 * and every step commits once. Steps/s = all steps over the time from the first publish to the last
 * commit. Step latency = one delivery's handling as the transport sees it (inbox check, load, the saga
 * method, save with the version check, the outbox row, commit, ack), p50/p99.
 *
 * The same again with steps that publish nothing (no outbox row): the cost of the outgoing message.
 * Beside it, in the same run, the store alone: the same load and versioned save in a bare unit of work
 * on the same database and concurrency, no bus, no inbox, no outbox: what a step costs at the least.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Persistence, SagaStore, Transport } from '@omnibus/core';
import { Bus, MemoryTransport, defineEvent } from '@omnibus/core';
import { PostgresPersistence, PostgresSagaStore, coalesceWrites } from '@omnibus/postgres';
import type { SagaContext } from '@omnibus/saga';
import { Handles, Saga, SagaRuntime, StartedBy } from '@omnibus/saga';
import { SqlitePersistence, SqliteSagaStore } from '@omnibus/sqlite';
import pg from 'pg';
import { percentile, printTable } from './table.js';

const postgresUrl = process.env.OMNIBUS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/omnibus';

interface Order {
  readonly orderId: string;
}
const OrderPlaced = defineEvent<Order & { amount: number }>({
  type: 'bench.OrderPlaced',
  channel: 'bench-orders',
});
const StockReserved = defineEvent<Order>({ type: 'bench.StockReserved', channel: 'bench-inventory' });
const PaymentSucceeded = defineEvent<Order>({ type: 'bench.PaymentSucceeded', channel: 'bench-payments' });
const OrderAccepted = defineEvent<Order>({ type: 'bench.OrderAccepted', channel: 'bench-out' });
const OrderPaying = defineEvent<Order>({ type: 'bench.OrderPaying', channel: 'bench-out' });
const OrderConfirmed = defineEvent<Order>({ type: 'bench.OrderConfirmed', channel: 'bench-out' });

/** Off for the run that shows what a step costs without its outgoing event (no outbox row, no NOTIFY). */
let emitEvents = true;

interface OrderState {
  status: string;
  amount: number;
  history: string[];
}

@Saga<OrderState>({ name: 'bench-order', initial: () => ({ status: 'new', amount: 0, history: [] }) })
class OrderSaga {
  @StartedBy(OrderPlaced, { correlate: (e) => e.orderId })
  async placed(e: Order & { amount: number }, saga: SagaContext<OrderState>) {
    saga.state.status = 'reserving';
    saga.state.amount = e.amount;
    saga.state.history.push('placed');
    if (emitEvents) await saga.publish(OrderAccepted, { orderId: saga.key });
  }

  @Handles(StockReserved, { correlate: (e) => e.orderId })
  async reserved(_e: Order, saga: SagaContext<OrderState>) {
    saga.state.status = 'paying';
    saga.state.history.push('reserved');
    if (emitEvents) await saga.publish(OrderPaying, { orderId: saga.key });
  }

  @Handles(PaymentSucceeded, { correlate: (e) => e.orderId })
  async paid(_e: Order, saga: SagaContext<OrderState>) {
    saga.state.status = 'confirmed';
    saga.state.history.push('paid');
    if (emitEvents) await saga.publish(OrderConfirmed, { orderId: saga.key });
    saga.complete();
  }
}

/** `inner` timing each delivery's handling, from the sink's call to its end (the bus acks inside). */
function timed(inner: Transport, latencies: number[]): Transport {
  return {
    name: inner.name,
    capabilities: inner.capabilities,
    connect: () => inner.connect(),
    provision: (topology) => inner.provision(topology),
    publish: (destination, envelopes) => inner.publish(destination, envelopes),
    health: () => inner.health(),
    close: () => inner.close(),
    consume: (source, sink, options) =>
      inner.consume(
        source,
        async (delivery) => {
          const started = performance.now();
          await sink(delivery);
          latencies.push(performance.now() - started);
        },
        options,
      ),
  };
}

async function until(condition: () => boolean, what: string, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

interface Database {
  readonly name: string;
  readonly persistence: Persistence;
  readonly store: SagaStore;
  close(): Promise<void>;
}

async function runBus(database: Database, instances: number, concurrency: number, events: boolean) {
  emitEvents = events;
  const latencies: number[] = [];
  const memory = new MemoryTransport();
  // A subscriber for the saga's outgoing events: without one the memory transport refuses them
  // (NOT_PROVISIONED) and the relay backs off with a growing outbox behind it.
  await memory.provision({ subscriptions: [{ channel: 'bench-out', group: 'bench-sink' }] });
  await memory.consume(
    { kind: 'subscription', channel: 'bench-out', group: 'bench-sink' },
    (delivery) => delivery.ack(),
    { concurrency: 64 },
  );
  const transport = timed(memory, latencies);
  const runtime = new SagaRuntime({ store: database.store, sagas: [OrderSaga] });
  const bus = new Bus({
    transport,
    serviceName: 'bench-saga',
    persistence: database.persistence,
    handlers: runtime.handlers,
    concurrency,
    outboxRelay: { pollIntervalMs: 20 },
  });
  await bus.start();
  const ids = Array.from({ length: instances }, (_, i) => `${database.name}-${String(events)}-o${i}`);
  const started = performance.now();
  const waves = [
    (id: string) => bus.publish(OrderPlaced, { orderId: id, amount: 10 }),
    (id: string) => bus.publish(StockReserved, { orderId: id }),
    (id: string) => bus.publish(PaymentSucceeded, { orderId: id }),
  ];
  for (const [index, publish] of waves.entries()) {
    for (let start = 0; start < ids.length; start += 500) {
      await Promise.all(ids.slice(start, start + 500).map(publish));
    }
    await until(() => runtime.stats.steps === instances * (index + 1), `wave ${index + 1}`);
  }
  const elapsed = (performance.now() - started) / 1000;
  const stats = { ...runtime.stats, retried: bus.stats.retried, deadLettered: bus.stats.deadLettered };
  await bus.stop();
  latencies.sort((a, b) => a - b);
  return { steps: stats.steps, elapsed, latencies, stats };
}

/** The store alone: load + versioned save of `instances` rows, three times each, `concurrency` at once. */
async function runStore(database: Database, instances: number, concurrency: number) {
  const unitOfWork = database.persistence.unitOfWork;
  const latencies: number[] = [];
  const saga = 'bench-store-only';
  const started = performance.now();
  for (let wave = 0; wave < 3; wave++) {
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < instances; i = next++) {
        const key = `${database.name}-s${i}`;
        const t = performance.now();
        await unitOfWork.transaction(async (tx) => {
          const record = await database.store.load(tx, saga, key);
          const now = new Date();
          await database.store.save(
            tx,
            {
              saga,
              key,
              version: (record?.version ?? 0) + 1,
              status: wave === 2 ? 'completed' : 'running',
              data: JSON.stringify({ state: { wave }, timeouts: [], compensations: [], compensated: false }),
              createdAt: record?.createdAt ?? now,
              updatedAt: now,
              ...(wave === 2 ? { completedAt: now } : {}),
            },
            record?.version ?? 0,
          );
        });
        latencies.push(performance.now() - t);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { steps: instances * 3, elapsed, latencies };
}

async function sqlite(): Promise<Database> {
  const directory = mkdtempSync(join(tmpdir(), 'omnibus-bench-saga-'));
  const persistence = new SqlitePersistence({ path: join(directory, 'bench.db') });
  await persistence.start();
  const store = new SqliteSagaStore(persistence);
  await store.start();
  return {
    name: 'sqlite',
    persistence,
    store,
    close: async () => {
      await persistence.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

async function postgres(poolSize: number): Promise<Database | undefined> {
  const schema = `bench_saga_${Date.now().toString(36)}`;
  // A pool as large as the bus's concurrency: pg's default of 10 would queue most steps for a connection.
  // Pipelined and write-coalescing, as the pool PostgresPersistence makes from a connection string.
  const pool = coalesceWrites(new pg.Pool({ connectionString: postgresUrl, max: poolSize, pipeline: true }));
  const persistence = new PostgresPersistence({ pool, schema });
  try {
    await persistence.start();
  } catch (error) {
    console.log(`PostgreSQL unreachable at ${postgresUrl}: ${(error as Error).message}; skipped`);
    await persistence.close();
    await pool.end();
    return undefined;
  }
  const store = new PostgresSagaStore(persistence);
  await store.start();
  return {
    name: 'postgres',
    persistence,
    store,
    close: async () => {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await persistence.close();
      await pool.end();
    },
  };
}

const ms = (value: number) => Math.round(value * 100) / 100;

export async function run(args: readonly string[]): Promise<void> {
  const instances = Number(args[0] ?? 2_000);
  const concurrency = Number(args[1] ?? 32);
  if (!Number.isInteger(instances) || instances < 1) throw new Error('instances must be a positive integer');
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error('concurrency must be a positive integer');
  const only = (args[2] ?? 'sqlite,postgres').split(',');
  const rows: Record<string, string | number>[] = [];
  const databases = { sqlite, postgres: () => postgres(concurrency) };
  for (const [name, open] of Object.entries(databases)) {
    if (!only.includes(name)) continue;
    const database = await open();
    if (database === undefined) continue;
    try {
      for (const events of [true, false]) {
        const bus = await runBus(database, instances, concurrency, events);
        if (bus.stats.deadLettered > 0 || bus.stats.completed !== instances) {
          throw new Error(`${database.name}: ${JSON.stringify(bus.stats)}`);
        }
        rows.push({
          database: database.name,
          what: events ? 'saga step, 1 event out' : 'saga step, no event out',
          steps: bus.steps,
          'steps/s': Math.round(bus.steps / bus.elapsed),
          'p50 ms': ms(percentile(bus.latencies, 50)),
          'p99 ms': ms(percentile(bus.latencies, 99)),
          retried: bus.stats.retried,
        });
      }
      const store = await runStore(database, instances, concurrency);
      rows.push({
        database: database.name,
        what: 'store alone (load + save)',
        steps: store.steps,
        'steps/s': Math.round(store.steps / store.elapsed),
        'p50 ms': ms(percentile(store.latencies, 50)),
        'p99 ms': ms(percentile(store.latencies, 99)),
        retried: 0,
      });
    } finally {
      await database.close();
    }
  }
  printTable(
    `saga steps: ${instances.toLocaleString('en-US')} instances x 3 steps, memory transport, concurrency ${concurrency}`,
    rows,
  );
}
