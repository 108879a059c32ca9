import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bus, MemoryTransport } from '@omnibus/core';
import { describeIntegration, uniqueName } from '@omnibus/core/testing';
import { RabbitMqTransport } from '@omnibus/rabbitmq';
import { forkSagaWorker, runSagaConcurrency, startSagaWorker, tallyContracts } from '@omnibus/saga/testing';
import { SqlitePersistence, SqliteSagaStore } from '../src/index.js';

const worker = fileURLToPath(new URL('./fixtures/saga-worker.js', import.meta.url));

async function probe(): Promise<void> {
  const rabbit = new RabbitMqTransport();
  await rabbit.connect();
  await rabbit.close();
}

describeIntegration('sagas on one SQLite file under concurrency (RabbitMQ)', probe, function () {
  this.timeout(300_000);
  let directory: string;
  let path: string;
  let prefix: string;
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeEach(function () {
    directory = mkdtempSync(join(tmpdir(), 'omnibus-saga-conc-'));
    path = join(directory, 'sagas.db');
    prefix = uniqueName('conc');
  });
  afterEach(async function () {
    for (const step of cleanup.splice(0).reverse()) await step();
    rmSync(directory, { recursive: true, force: true });
  });

  async function openStore(): Promise<{ persistence: SqlitePersistence; store: SqliteSagaStore }> {
    const persistence = new SqlitePersistence({ path });
    await persistence.start();
    cleanup.push(() => persistence.close());
    const store = new SqliteSagaStore(persistence);
    await store.start();
    return { persistence, store };
  }

  it('two processes on RabbitMQ: 1,000 instances, events in random order, none lost, none dead-lettered', async function () {
    const { store } = await openStore();
    const publisher = new Bus({ transport: new RabbitMqTransport(), serviceName: 'publisher' });
    await publisher.start();
    cleanup.push(() => publisher.stop());
    const { TallyItem } = tallyContracts(prefix);
    await runSagaConcurrency({
      prefix,
      store,
      startWorkers: () => Promise.all([1, 2].map(() => forkSagaWorker(worker, [path, prefix]))),
      publish: (item) => publisher.publish(TallyItem, item),
    });
  });
});

// No broker needed, but 5,000 steps on a file: kept out of the unit tier by its file name. The buses
// share one persistence: node:sqlite waits for another connection's write lock synchronously, so two
// connections to one file in one process would block each other's event loop (one per process, as above).
describe('sagas on one SQLite file under concurrency (memory transport)', function () {
  this.timeout(300_000);
  let directory: string;
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeEach(function () {
    directory = mkdtempSync(join(tmpdir(), 'omnibus-saga-conc-'));
  });
  afterEach(async function () {
    for (const step of cleanup.splice(0).reverse()) await step();
    rmSync(directory, { recursive: true, force: true });
  });

  it('two buses on one persistence: 1,000 instances, events in random order, none lost, none dead-lettered', async function () {
    const prefix = uniqueName('conc');
    const persistence = new SqlitePersistence({ path: join(directory, 'sagas.db') });
    await persistence.start();
    cleanup.push(() => persistence.close());
    const store = new SqliteSagaStore(persistence);
    await store.start();
    const transport = new MemoryTransport();
    cleanup.push(() => transport.close());
    const publisher = new Bus({ transport, serviceName: 'publisher', closeTransport: false });
    await publisher.start();
    cleanup.push(() => publisher.stop());
    const { TallyItem } = tallyContracts(prefix);
    await runSagaConcurrency({
      prefix,
      store,
      startWorkers: () =>
        Promise.all([1, 2].map(() => startSagaWorker({ prefix, transport, persistence, store }))),
      publish: (item) => publisher.publish(TallyItem, item),
    });
  });
});
