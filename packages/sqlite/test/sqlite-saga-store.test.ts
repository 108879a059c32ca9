import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSagaStoreConformance } from '@omnibus/saga/testing';
import { SqlitePersistence, SqliteSagaStore } from '../src/index.js';

runSagaStoreConformance('SqliteSagaStore', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'omnibus-saga-'));
  const persistence = new SqlitePersistence({ path: join(directory, 'sagas.db') });
  await persistence.start();
  const store = new SqliteSagaStore(persistence);
  await store.start();
  return {
    store,
    unitOfWork: persistence.unitOfWork,
    close: async () => {
      await persistence.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
});
