import { MemoryPersistence } from '@omnibus/core';
import { MemorySagaStore } from '../src/index.js';
import { runSagaStoreConformance } from '../src/testing/index.js';

runSagaStoreConformance('MemorySagaStore', async () => {
  const persistence = new MemoryPersistence();
  return { store: new MemorySagaStore(), unitOfWork: persistence.unitOfWork, close: async () => undefined };
});
