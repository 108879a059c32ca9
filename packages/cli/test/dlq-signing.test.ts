import { MemoryTransport } from '@omnibus/core';
import { runDlqSigningScenarios } from './dlq-signing-scenarios.js';

runDlqSigningScenarios('memory', async () => new MemoryTransport(), {
  shared: true,
  waitMs: 10_000,
  cliWaitMs: 500,
});
