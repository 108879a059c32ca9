import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigurationError } from '@omnibus/core';
import { readSampleConfig } from '../src/index.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

describe('the sample services configuration', function () {
  it('defaults to the in-memory bus and a SQLite file per service', function () {
    const config = readSampleConfig('payment-service', {});
    expect(config).to.deep.include({ service: 'payment-service', transport: 'memory', namePrefix: '' });
    expect(config.database).to.deep.include({ kind: 'sqlite' });
    expect(config.database.kind === 'sqlite' && config.database.path).to.match(/data\/payment-service\.db$/);
    expect(config.brokers.rabbitmqUrl).to.equal('amqp://guest:guest@127.0.0.1:5672');
  });

  it('takes PostgreSQL by URL, in a schema named after the service, and the broker addresses', function () {
    const config = readSampleConfig('order-service', {
      OMNIBUS_TRANSPORT: 'kafka',
      OMNIBUS_KAFKA_BROKERS: 'k1:9092,k2:9092',
      OMNIBUS_DATABASE_URL: 'postgres://postgres@db:5432/omnibus',
      OMNIBUS_SCHEMA_REGISTRY_URL: 'http://registry:8081',
    });
    expect(config.transport).to.equal('kafka');
    expect(config.brokers.kafkaBrokers).to.deep.equal(['k1:9092', 'k2:9092']);
    expect(config.database).to.deep.equal({
      kind: 'postgres',
      url: 'postgres://postgres@db:5432/omnibus',
      schema: 'order_service',
    });
    expect(config.registryUrl).to.equal('http://registry:8081');
  });

  for (const [name, value] of [
    ['OMNIBUS_TRANSPORT', 'carrier-pigeon'],
    ['OMNIBUS_DATABASE_URL', 'mysql://db'],
    ['OMNIBUS_SCHEMA_REGISTRY_URL', 'registry:8081'],
    ['OMNIBUS_NAME_PREFIX', 'Has Spaces'],
  ] as const) {
    it(`refuses a bad ${name}, naming it`, function () {
      expect(() => readSampleConfig('order-service', { [name]: value }))
        .to.throw(ConfigurationError)
        .with.property('message')
        .that.contains(name);
    });
  }

  it('its schema types are up to date with schemas/ (else run `npm run schemas:types`)', async function () {
    this.timeout(20_000);
    const script = `${root}scripts/schema-types.mjs`;
    const result = await promisify(execFile)(
      process.execPath,
      [script, '--check', '--out', 'apps/sample-kit/src/schema-types.ts'],
      { cwd: root },
    );
    expect(result.stderr).to.equal('');
  });
});
