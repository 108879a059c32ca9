import { fileURLToPath } from 'node:url';
import { Bus, MemoryTransport } from '@omnibus/core';
import { describeIntegration, uniqueName } from '@omnibus/core/testing';
import { RabbitMqTransport } from '@omnibus/rabbitmq';
import { forkSagaWorker, runSagaConcurrency, startSagaWorker, tallyContracts } from '@omnibus/saga/testing';
import pg from 'pg';
import { PostgresPersistence, PostgresSagaStore } from '../src/index.js';

const url = process.env.OMNIBUS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/omnibus';
const worker = fileURLToPath(new URL('./fixtures/saga-worker.js', import.meta.url));

async function probe(): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  await client.connect();
  await client.end();
  const rabbit = new RabbitMqTransport();
  await rabbit.connect();
  await rabbit.close();
}

describeIntegration('sagas on PostgreSQL under concurrency (real PostgreSQL, RabbitMQ)', probe, function () {
  this.timeout(300_000);
  let schema: string;
  let prefix: string;
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeEach(async function () {
    schema = uniqueName('omnibus_saga').replace(/-/g, '_');
    prefix = uniqueName('conc');
  });
  afterEach(async function () {
    for (const step of cleanup.splice(0).reverse()) await step();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  async function openStore(): Promise<{ persistence: PostgresPersistence; store: PostgresSagaStore }> {
    const persistence = new PostgresPersistence({ connectionString: url, schema });
    await persistence.start();
    cleanup.push(() => persistence.close());
    const store = new PostgresSagaStore(persistence);
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
      startWorkers: () => Promise.all([1, 2].map(() => forkSagaWorker(worker, [url, schema, prefix]))),
      publish: (item) => publisher.publish(TallyItem, item),
    });
  });

  it('two buses on the memory transport, each with its own pool: 1,000 instances, none lost, none dead-lettered', async function () {
    const transport = new MemoryTransport();
    cleanup.push(() => transport.close());
    const shared = await openStore();
    const publisher = new Bus({ transport, serviceName: 'publisher', closeTransport: false });
    await publisher.start();
    cleanup.push(() => publisher.stop());
    const { TallyItem } = tallyContracts(prefix);
    const reports = await runSagaConcurrency({
      prefix,
      store: shared.store,
      startWorkers: async () => {
        const workers = [];
        for (let i = 0; i < 2; i++) {
          const { persistence, store } = await openStore();
          workers.push(await startSagaWorker({ prefix, transport, persistence, store }));
        }
        return workers;
      },
      publish: (item) => publisher.publish(TallyItem, item),
    });
    // On memory the items of one instance really do race: conflicts must have happened and been retried.
    if (reports.every((report) => report.retried === 0)) throw new Error('no version conflict happened');
  });
});
