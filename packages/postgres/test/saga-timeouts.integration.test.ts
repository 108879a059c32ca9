import { describeIntegration, uniqueName } from '@omnibus/core/testing';
import { runSagaTimeoutTests } from '@omnibus/saga/testing';
import pg from 'pg';
import { PostgresPersistence, PostgresSagaStore } from '../src/index.js';

const url = process.env.OMNIBUS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/omnibus';

async function probe(): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  await client.connect();
  await client.end();
}

describeIntegration('saga timeouts on PostgreSQL (real PostgreSQL)', probe, function () {
  runSagaTimeoutTests('PostgreSQL', async () => {
    const schema = uniqueName('omnibus_saga').replace(/-/g, '_');
    return {
      open: async () => {
        const persistence = new PostgresPersistence({ connectionString: url, schema });
        await persistence.start();
        const store = new PostgresSagaStore(persistence);
        await store.start();
        return { persistence, store, close: () => persistence.close() };
      },
      drop: async () => {
        const admin = new pg.Client({ connectionString: url });
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.end();
      },
    };
  });
});
