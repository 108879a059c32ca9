import { describeIntegration } from '@omnibus/core/testing';
import { loadToolConfig, transportFromConfig } from '../src/index.js';
import { runDlqSigningScenarios } from './dlq-signing-scenarios.js';

const connected = async () => {
  const transport = transportFromConfig(await loadToolConfig({ OMNIBUS_TRANSPORT: 'rabbitmq' }));
  await transport.connect(AbortSignal.timeout(10_000));
  return transport;
};

describeIntegration(
  'omnibus dlq replay on a signing RabbitMQ bus',
  async () => (await connected()).close(),
  function () {
    // The CLI opens its own connection, as an operator's would.
    runDlqSigningScenarios('rabbitmq', connected, { shared: false, waitMs: 30_000, cliWaitMs: 3_000 });
  },
);
