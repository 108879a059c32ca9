import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigurationError } from '@omnibus/core';
import { loadToolConfig, readToolConfig, transportFromConfig } from '@omnibus/cli';

function fieldOf(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigurationError);
    return (error as ConfigurationError).field;
  }
  throw new Error('no error');
}

describe('tool configuration (omnibus.config.json and the services’ variables)', function () {
  it('defaults to the memory transport on the lab addresses', function () {
    const config = readToolConfig({}, {});
    expect(config.transport).to.equal('memory');
    expect(config.brokers.rabbitmqUrl).to.equal('amqp://guest:guest@127.0.0.1:5672');
    expect(config.database).to.equal(undefined);
    expect(transportFromConfig(config).name).to.equal('memory');
  });

  it('reads the file, and the environment variables win over it', function () {
    const content = {
      transport: 'rabbitmq',
      namePrefix: 'shop',
      brokers: { rabbitmqUrl: 'amqp://file:5672', kafkaBrokers: ['k1:9092', 'k2:9092'] },
      database: { postgres: 'postgres://db/app', schema: 'orders' },
      registryUrl: 'http://registry:8081',
      console: { port: 9000, buses: { orders: 'http://orders:3000/readyz' } },
    };
    const fromFile = readToolConfig(content, {}, 'omnibus.config.json');
    expect(fromFile).to.deep.include({
      transport: 'rabbitmq',
      namePrefix: 'shop',
      registryUrl: 'http://registry:8081',
    });
    expect(fromFile.brokers.kafkaBrokers).to.deep.equal(['k1:9092', 'k2:9092']);
    expect(fromFile.database).to.deep.equal({ kind: 'postgres', url: 'postgres://db/app', schema: 'orders' });
    expect(fromFile.console.buses).to.deep.equal({ orders: 'http://orders:3000/readyz' });
    const env = {
      OMNIBUS_TRANSPORT: 'nats',
      OMNIBUS_RABBITMQ_URL: 'amqp://env:5672',
      OMNIBUS_KAFKA_BROKERS: 'e1:9092, e2:9092',
      OMNIBUS_DATABASE_URL: 'postgres://env/app',
    };
    const both = readToolConfig(content, env, 'omnibus.config.json');
    expect(both.transport).to.equal('nats');
    expect(both.brokers.rabbitmqUrl).to.equal('amqp://env:5672');
    expect(both.brokers.kafkaBrokers).to.deep.equal(['e1:9092', 'e2:9092']);
    expect(both.database).to.deep.equal({ kind: 'postgres', url: 'postgres://env/app', schema: undefined });
    expect(transportFromConfig(both).name).to.equal('nats');
  });

  it('names the field or the variable of a bad value', function () {
    const file = 'omnibus.config.json';
    expect(fieldOf(() => readToolConfig({ transport: 'carrier-pigeon' }, {}, file))).to.equal(
      `${file}: transport`,
    );
    expect(fieldOf(() => readToolConfig({}, { OMNIBUS_TRANSPORT: 'smoke' }, file))).to.equal(
      'OMNIBUS_TRANSPORT',
    );
    expect(fieldOf(() => readToolConfig({ transprot: 'kafka' }, {}, file))).to.equal(`${file}: transprot`);
    expect(fieldOf(() => readToolConfig({ brokers: { rabbitUrl: 'x' } }, {}, file))).to.equal(
      `${file}: brokers.rabbitUrl`,
    );
    expect(fieldOf(() => readToolConfig({ brokers: { natsUrl: 'not a url' } }, {}, file))).to.equal(
      `${file}: brokers.natsUrl`,
    );
    expect(fieldOf(() => readToolConfig({ brokers: { kafkaBrokers: 'k:9092' } }, {}, file))).to.equal(
      `${file}: brokers.kafkaBrokers`,
    );
    expect(fieldOf(() => readToolConfig({ database: { postgres: 'mysql://x' } }, {}, file))).to.equal(
      `${file}: database.postgres`,
    );
    expect(
      fieldOf(() => readToolConfig({ database: { postgres: 'postgres://a', sqlite: 'b' } }, {}, file)),
    ).to.equal(`${file}: database`);
    expect(fieldOf(() => readToolConfig({ registryUrl: 'ftp://r' }, {}, file))).to.equal(
      `${file}: registryUrl`,
    );
    expect(fieldOf(() => readToolConfig({ console: { port: 'eighty' } }, {}, file))).to.equal(
      `${file}: console.port`,
    );
    expect(fieldOf(() => readToolConfig({ console: { buses: { a: 'nope' } } }, {}, file))).to.equal(
      `${file}: console.buses.a`,
    );
    expect(fieldOf(() => readToolConfig({}, { OMNIBUS_NAME_PREFIX: 'Upper' }, file))).to.equal(
      'OMNIBUS_NAME_PREFIX',
    );
  });

  it('finds omnibus.config.json or .js in the directory, or the file $OMNIBUS_CONFIG names', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'omnibus-config-'));
    expect((await loadToolConfig({}, undefined, dir)).file).to.equal(undefined);
    writeFileSync(join(dir, 'omnibus.config.js'), "export default { transport: 'kafka' };\n");
    const fromJs = await loadToolConfig({}, undefined, dir);
    expect(fromJs.transport).to.equal('kafka');
    expect(fromJs.file).to.equal(join(dir, 'omnibus.config.js'));
    writeFileSync(join(dir, 'omnibus.config.json'), '{ "transport": "aws" }');
    expect((await loadToolConfig({}, undefined, dir)).transport).to.equal('aws');
    writeFileSync(join(dir, 'other.json'), '{ "transport": "pubsub" }');
    expect((await loadToolConfig({ OMNIBUS_CONFIG: 'other.json' }, undefined, dir)).transport).to.equal(
      'pubsub',
    );
    writeFileSync(join(dir, 'broken.json'), '{ transport: ');
    let error: unknown;
    await loadToolConfig({}, 'broken.json', dir).catch((caught: unknown) => (error = caught));
    expect((error as ConfigurationError).field).to.equal(join(dir, 'broken.json'));
    error = undefined;
    await loadToolConfig({}, 'missing.json', dir).catch((caught: unknown) => (error = caught));
    expect((error as ConfigurationError).field).to.equal('OMNIBUS_CONFIG');
  });

  it('reads the signing keys from $OMNIBUS_SIGNING_KEYS or a keys file, naming the source of a bad one', function () {
    const dir = mkdtempSync(join(tmpdir(), 'omnibus-keys-'));
    const signing = { keys: { k1: 'a-signing-key-of-thirty-two-bytes-or-more' }, signWith: 'k1' };
    writeFileSync(join(dir, 'keys.json'), JSON.stringify(signing));
    const file = join(dir, 'omnibus.config.json');
    expect(readToolConfig({}, {}).signing).to.equal(undefined);
    expect(readToolConfig({ contracts: './dist/contracts.js' }, {}, file).contracts).to.equal(
      join(dir, 'dist', 'contracts.js'),
    );
    const fromFile = readToolConfig({ signingKeysFile: 'keys.json' }, {}, file).signing;
    expect(fromFile?.signWith).to.equal('k1');
    expect(fromFile?.required).to.equal(true);
    const fromEnv = readToolConfig({}, { OMNIBUS_SIGNING_KEYS: JSON.stringify(signing) }).signing;
    expect(fromEnv?.keys.get('k1')).to.have.length(41);
    expect(fieldOf(() => readToolConfig({ signingKeysFile: 'none.json' }, {}, file))).to.equal(
      `${file}: signingKeysFile`,
    );
    expect(fieldOf(() => readToolConfig({}, { OMNIBUS_SIGNING_KEYS: '{ k1' }))).to.equal(
      'OMNIBUS_SIGNING_KEYS',
    );
    const short = JSON.stringify({ keys: { k1: 'short' }, signWith: 'k1' });
    expect(fieldOf(() => readToolConfig({}, { OMNIBUS_SIGNING_KEYS: short }))).to.equal(
      'OMNIBUS_SIGNING_KEYS.keys.k1',
    );
  });
});
