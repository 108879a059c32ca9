import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSagaTimeoutTests } from '@omnibus/saga/testing';
import { SqlitePersistence, SqliteSagaStore } from '../src/index.js';

runSagaTimeoutTests('SQLite', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'omnibus-saga-timeouts-'));
  const path = join(directory, 'sagas.db');
  return {
    open: async () => {
      const persistence = new SqlitePersistence({ path });
      await persistence.start();
      const store = new SqliteSagaStore(persistence);
      await store.start();
      return { persistence, store, close: () => persistence.close() };
    },
    drop: async () => rmSync(directory, { recursive: true, force: true }),
  };
});
