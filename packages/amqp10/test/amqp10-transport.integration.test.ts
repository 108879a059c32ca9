import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  SECURITY_CONFORMANCE_SIGNING,
  describeIntegration,
  runTransportConformance,
} from '@omnibus/core/testing';
import type { Amqp10TransportOptions } from '../src/index.js';
import { Amqp10Transport } from '../src/index.js';
import { probeBroker, url } from './broker.js';

const brokersScript = fileURLToPath(new URL('../../../../scripts/brokers', import.meta.url));
const run = promisify(execFile);

describeIntegration('amqp10 (ActiveMQ Artemis)', probeBroker, () => {
  async function createTransport(options: Amqp10TransportOptions = {}): Promise<Amqp10Transport> {
    const transport = new Amqp10Transport({ url, ...options });
    await transport.connect();
    return transport;
  }

  runTransportConformance('amqp10', {
    createTransport: () => createTransport(),
    createUnconnectedTransport: () => new Amqp10Transport({ url }),
    createSigningTransport: () => createTransport({ signing: SECURITY_CONFORMANCE_SIGNING }),
    restartBroker: async () => {
      try {
        await run(brokersScript, ['restart', 'activemq'], { timeout: 240_000 });
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: string; stderr?: string };
        throw new Error(`scripts/brokers restart activemq failed:\n${stdout ?? ''}${stderr ?? ''}`, {
          cause: error,
        });
      }
    },
    reconnectMessages: 10_000,
  });
});
