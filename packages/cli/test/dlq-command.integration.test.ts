import { describeIntegration } from '@omnibus/core/testing';
import type { TransportName } from '../src/index.js';
import { loadToolConfig, transportFromConfig } from '../src/index.js';
import { runDlqScenarios } from './dlq-scenarios.js';

const brokers: readonly Exclude<TransportName, 'memory'>[] = [
  'rabbitmq',
  'kafka',
  'aws',
  'pubsub',
  'nats',
  'amqp10',
];

for (const transport of brokers) {
  const probe = async (): Promise<void> => {
    const client = transportFromConfig(await loadToolConfig({ OMNIBUS_TRANSPORT: transport }));
    const abort = AbortSignal.timeout(10_000);
    try {
      await client.connect(abort);
    } finally {
      await client.close();
    }
  };
  describeIntegration(`omnibus dlq on ${transport}`, probe, function () {
    this.timeout(180_000);
    runDlqScenarios({ transport, crashTest: true });
  });
}
