import { MemoryPersistence } from '@omnibus/core';
import { MemorySagaStore } from '../src/index.js';
import { runSagaTimeoutTests } from '../src/testing/index.js';

// Memory survives no restart of the process, but a restart of the bus: each open is the same tables.
runSagaTimeoutTests('memory', async () => {
  const persistence = new MemoryPersistence();
  const store = new MemorySagaStore();
  return {
    open: async () => ({ persistence, store, close: async () => undefined }),
    drop: async () => undefined,
  };
});
