import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bus } from '@omnibus/core';
import { collectChannel, describeIntegration, uniqueName } from '@omnibus/core/testing';
import { RabbitMqTransport } from '@omnibus/rabbitmq';
import { forkSagaWorker, runSagaCrash, tallyContracts } from '@omnibus/saga/testing';
import { SqlitePersistence, SqliteSagaStore } from '../src/index.js';

const worker = fileURLToPath(new URL('./fixtures/saga-worker.js', import.meta.url));

async function probe(): Promise<void> {
  const rabbit = new RabbitMqTransport();
  await rabbit.connect();
  await rabbit.close();
}

describeIntegration('sagas on SQLite survive a SIGKILL (RabbitMQ)', probe, function () {
  this.timeout(300_000);
  const directory = mkdtempSync(join(tmpdir(), 'omnibus-saga-crash-'));
  const cleanup: (() => Promise<unknown>)[] = [];

  after(async function () {
    for (const step of cleanup.splice(0).reverse()) await step();
    rmSync(directory, { recursive: true, force: true });
  });

  it('a worker killed in the middle of steps: after a restart every instance completes, each step committed once', async function () {
    const prefix = uniqueName('crash');
    const path = join(directory, 'sagas.db');
    const persistence = new SqlitePersistence({ path });
    await persistence.start();
    cleanup.push(() => persistence.close());
    const store = new SqliteSagaStore(persistence);
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
      forkWorker: () => forkSagaWorker(worker, [path, prefix]),
      publish: (item) => publisher.publish(TallyItem, item),
    });
    console.log(
      `      killed with ${report.completedAtKill} of 1,000 instances completed, ${report.startedAtKill} begun`,
    );
  });
});
