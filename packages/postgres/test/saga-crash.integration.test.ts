import { fileURLToPath } from 'node:url';
import { Bus } from '@omnibus/core';
import { collectChannel, describeIntegration, uniqueName } from '@omnibus/core/testing';
import { RabbitMqTransport } from '@omnibus/rabbitmq';
import { forkSagaWorker, runSagaCrash, tallyContracts } from '@omnibus/saga/testing';
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

describeIntegration('sagas on PostgreSQL survive a SIGKILL (real PostgreSQL, RabbitMQ)', probe, function () {
  this.timeout(300_000);
  const schema = uniqueName('omnibus_saga').replace(/-/g, '_');
  const cleanup: (() => Promise<unknown>)[] = [];

  after(async function () {
    for (const step of cleanup.splice(0).reverse()) await step();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('a worker killed in the middle of steps: after a restart every instance completes, each step committed once', async function () {
    const prefix = uniqueName('crash');
    const persistence = new PostgresPersistence({ connectionString: url, schema });
    await persistence.start();
    cleanup.push(() => persistence.close());
    const store = new PostgresSagaStore(persistence);
    await store.start();
    const transport = new RabbitMqTransport();
    const publisher = new Bus({ transport, serviceName: 'publisher' });
    await publisher.start();
    cleanup.push(() => publisher.stop());
    const { TallyItem, TallyDone } = tallyContracts(prefix);
    const done = await collectChannel(transport, TallyDone.channel, `${prefix}-watcher`);
    const report = await runSagaCrash({
      prefix,
      store,
      done,
      forkWorker: () => forkSagaWorker(worker, [url, schema, prefix]),
      publish: (item) => publisher.publish(TallyItem, item),
    });
    console.log(
      `      killed with ${report.completedAtKill} of 1,000 instances completed, ${report.startedAtKill} begun`,
    );
  });
});
