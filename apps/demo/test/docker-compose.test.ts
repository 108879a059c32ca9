import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { readSampleConfig } from '@omnibus/sample-kit';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

interface ComposeService {
  readonly command?: readonly string[];
  readonly ports?: readonly string[];
  readonly environment?: Record<string, unknown>;
  readonly profiles?: readonly string[];
}
const compose = load(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, ComposeService & { '<<'?: ComposeService }>;
};

/** A service with its `<<: *anchor` merges applied (js-yaml leaves them as keys). */
function service(name: string): ComposeService {
  const raw = compose.services[name];
  expect(raw, `docker-compose.yml has no service ${name}`).to.not.equal(undefined);
  const { '<<': base, ...own } = raw!;
  const environment = { ...(base?.environment ?? {}), ...(own.environment ?? {}) } as Record<string, unknown>;
  const { '<<': envBase, ...envOwn } = environment as Record<string, unknown> & {
    '<<'?: Record<string, unknown>;
  };
  return { ...base, ...own, environment: { ...envBase, ...envOwn } };
}

/** The container ports a compose service publishes or listens on. */
function containerPorts(name: string): number[] {
  const s = service(name);
  const published = (s.ports ?? []).map((mapping) => Number(mapping.split(':').at(-1)));
  const kafkaListeners = ((s.environment?.KAFKA_LISTENERS as string | undefined) ?? '')
    .split(',')
    .map((listener) => Number(listener.split(':').at(-1)))
    .filter((port) => port > 0);
  return [...published, ...kafkaListeners];
}

/** Every string literal of the code that reads the environment: the sample's sources and the lab's. */
function sourcesText(): string {
  const dirs = [
    'apps/sample-kit/src',
    'apps/order-service/src',
    'apps/inventory-service/src',
    'apps/payment-service/src',
  ];
  const files = dirs.flatMap((dir) => readdirSync(join(root, dir)).map((file) => join(root, dir, file)));
  return [...files, join(root, 'packages/lab/src/broker-env.ts')]
    .filter((file) => file.endsWith('.ts'))
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n');
}

const SERVICES = ['order-service', 'inventory-service', 'payment-service'] as const;

describe('docker-compose.yml for the sample (cannot run here: checked against the code)', function () {
  it('runs each service from its built main, and the registry from the CLI', function () {
    for (const name of SERVICES) {
      const command = service(name).command ?? [];
      expect(command).to.deep.equal(['node', `apps/${name}/dist/src/main.js`]);
      expect(existsSync(join(root, command[1]!)), `${command[1]} (npm run build makes it)`).to.equal(true);
      expect(service(name).profiles).to.deep.equal(['sample']);
    }
    const registry = service('registry').command ?? [];
    expect(registry.slice(0, 4)).to.deep.equal(['node', 'packages/cli/bin/omnibus.js', 'registry', 'serve']);
    expect(existsSync(join(root, 'packages/cli/bin/omnibus.js'))).to.equal(true);
    expect(registry[registry.indexOf('--port') + 1]).to.equal('8081');
    expect(containerPorts('registry')).to.include(8081);
  });

  it('sets only variables the code reads, and the code reads them as the compose file means', function () {
    const code = sourcesText();
    for (const name of SERVICES) {
      const environment = service(name).environment as Record<string, string>;
      for (const variable of Object.keys(environment)) {
        const read = code.includes(`'${variable}'`) || code.includes(`env.${variable}`);
        expect(read, `${name}: ${variable} is read nowhere`).to.equal(true);
      }
      const env = { ...environment, OMNIBUS_TRANSPORT: 'rabbitmq' };
      const config = readSampleConfig(name, env);
      expect(config.registryUrl).to.equal('http://registry:8081');
      expect(config.database).to.deep.equal({ kind: 'sqlite', path: `/data/${name}.db` });
      expect(config.brokers.rabbitmqUrl).to.equal(environment.OMNIBUS_RABBITMQ_URL);
      expect(config.brokers.kafkaBrokers).to.deep.equal([environment.OMNIBUS_KAFKA_BROKERS]);
      expect(environment.OMNIBUS_TRANSPORT).to.match(/^\$\{OMNIBUS_TRANSPORT:-rabbitmq\}$/);
    }
  });

  it('points every broker address at a compose service and a port it listens on', function () {
    const environment = service('order-service').environment as Record<string, string>;
    const addresses: Record<string, string> = {
      OMNIBUS_RABBITMQ_URL: 'rabbitmq',
      OMNIBUS_KAFKA_BROKERS: 'kafka',
      OMNIBUS_AWS_ENDPOINT: 'aws',
      PUBSUB_EMULATOR_HOST: 'pubsub',
      OMNIBUS_NATS_URL: 'nats',
      OMNIBUS_AMQP10_URL: 'activemq',
      OMNIBUS_SCHEMA_REGISTRY_URL: 'registry',
    };
    for (const [variable, host] of Object.entries(addresses)) {
      const value = environment[variable]!;
      const match = /^(?:[a-z0-9]+:\/\/)?(?:[^@/]+@)?([a-z0-9-]+):(\d+)/.exec(value);
      expect(match, `${variable}=${value}`).to.not.equal(null);
      expect(match![1], variable).to.equal(host);
      expect(containerPorts(host), `${host} listens on ${match![2]}`).to.include(Number(match![2]));
    }
  });

  it('publishes the order API on the port the service listens on', function () {
    const order = service('order-service');
    expect(order.environment?.PORT).to.equal('3000');
    expect(order.environment?.OMNIBUS_HTTP_HOST).to.equal('0.0.0.0');
    expect(order.ports).to.deep.equal(['127.0.0.1:3000:3000']);
  });
});
