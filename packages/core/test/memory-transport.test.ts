import { MemoryTransport } from '../src/index.js';
import { runTransportConformance } from '../src/testing/index.js';

runTransportConformance('memory', {
  createTransport: async () => {
    const transport = new MemoryTransport();
    await transport.connect();
    return transport;
  },
  waitMs: 5_000,
});
