import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryRegistryStore, SqliteRegistryStore } from '../src/index.js';
import { runRegistryStoreConformance } from '../src/testing/index.js';

runRegistryStoreConformance('memory', { createStore: async () => new MemoryRegistryStore() });

describe('SQLite registry store', () => {
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  const paths = new WeakMap<object, string>();
  runRegistryStoreConformance('sqlite', {
    createStore: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'omnibus-registry-'));
      dirs.push(dir);
      const path = join(dir, 'registry.db');
      const store = await SqliteRegistryStore.open(path);
      paths.set(store, path);
      return store;
    },
    reopen: async (store) => {
      await store.close();
      const reopened = await SqliteRegistryStore.open(paths.get(store)!);
      paths.set(reopened, paths.get(store)!);
      return reopened;
    },
  });
});
