import { MemoryTransport } from '@omnibus/core';
import { runDlqScenarios } from './dlq-scenarios.js';

describe('omnibus dlq on the memory transport', function () {
  this.timeout(60_000);
  runDlqScenarios({ transport: 'memory', shared: new MemoryTransport(), crashTest: false });
});
