import { ConfigurationError } from '@omnibus/core';
import { expect } from 'chai';
import type { PubSubAuth, PubSubTransportOptions } from '../src/index.js';
import { PubSubTransport } from '../src/index.js';
import { resolvePubSubOptions } from '../src/pubsub-options.js';

function fieldOf(options: unknown, env: Record<string, string> = {}): string | undefined {
  try {
    resolvePubSubOptions(options as PubSubTransportOptions, env);
    return undefined;
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigurationError);
    return (error as ConfigurationError).field;
  }
}

/** Stands in for a GoogleAuth: only its shape is checked, nothing is called in these tests. */
const auth = { getClient: async () => ({}) } as unknown as PubSubAuth;

describe('PubSub transport options', function () {
  it('applies the defaults', function () {
    const resolved = resolvePubSubOptions({ projectId: 'acme-prod' }, {});
    expect(resolved.emulatorHost).to.equal(undefined);
    expect(resolved.namePrefix).to.equal('');
    expect(resolved.deadLetterPolicy).to.equal(true);
    expect(resolved.batching).to.deep.equal({ maxMessages: 100, maxMilliseconds: 10, maxBytes: 1024 * 1024 });
  });

  it('takes the emulator from PUBSUB_EMULATOR_HOST unless auth is given', function () {
    const env = { PUBSUB_EMULATOR_HOST: '127.0.0.1:8085' };
    const emulated = resolvePubSubOptions({ projectId: 'acme-test' }, env);
    expect(emulated.emulatorHost).to.equal('127.0.0.1:8085');
    expect(emulated.deadLetterPolicy, 'off by default with an emulator').to.equal(false);
    expect(
      resolvePubSubOptions({ projectId: 'acme-test', deadLetterPolicy: true }, env).deadLetterPolicy,
    ).to.equal(true);
    expect(resolvePubSubOptions({ projectId: 'acme-test', auth }, env).emulatorHost).to.equal(undefined);
    expect(
      resolvePubSubOptions({ projectId: 'acme-test', emulatorHost: 'localhost:9000' }, env).emulatorHost,
    ).to.equal('localhost:9000');
    expect(fieldOf({ projectId: 'acme-test' }, { PUBSUB_EMULATOR_HOST: 'nonsense' })).to.equal(
      'PUBSUB_EMULATOR_HOST',
    );
  });

  it('names the offending field', function () {
    expect(fieldOf(undefined)).to.equal('options');
    expect(fieldOf({})).to.equal('projectId');
    expect(fieldOf({ projectId: 'Acme' })).to.equal('projectId');
    expect(fieldOf({ projectId: 'acme-', emulatorHost: 'x:1' })).to.equal('projectId');
    expect(fieldOf({ projectId: 'acme-test', emulatorHost: '127.0.0.1' })).to.equal('emulatorHost');
    expect(fieldOf({ projectId: 'acme-test', emulatorHost: 'host:99999' })).to.equal('emulatorHost');
    expect(fieldOf({ projectId: 'acme-test', emulatorHost: 'host:1', auth })).to.equal('emulatorHost');
    expect(fieldOf({ projectId: 'acme-test', auth: { client_email: 'x', private_key: 'k' } })).to.equal(
      'auth',
    );
    expect(fieldOf({ projectId: 'acme-test', namePrefix: '1st-' })).to.equal('namePrefix');
    expect(fieldOf({ projectId: 'acme-test', namePrefix: 'a/b' })).to.equal('namePrefix');
    expect(fieldOf({ projectId: 'acme-test', namePrefix: 'google-' })).to.equal('namePrefix');
    expect(fieldOf({ projectId: 'acme-test', batching: { maxMessages: 0 } })).to.equal(
      'batching.maxMessages',
    );
    expect(fieldOf({ projectId: 'acme-test', batching: { maxMessages: 1001 } })).to.equal(
      'batching.maxMessages',
    );
    expect(fieldOf({ projectId: 'acme-test', batching: { maxMilliseconds: -1 } })).to.equal(
      'batching.maxMilliseconds',
    );
    expect(fieldOf({ projectId: 'acme-test', batching: { maxBytes: 10 * 1024 * 1024 } })).to.equal(
      'batching.maxBytes',
    );
    expect(fieldOf({ projectId: 'acme-test', deadLetterPolicy: 'yes' })).to.equal('deadLetterPolicy');
    expect(fieldOf({ projectId: 'acme-test', logger: {} })).to.equal('logger');
  });

  it('accepts a domain-scoped project id, an auth and a prefix', function () {
    expect(fieldOf({ projectId: 'example.com:acme-prod', auth })).to.equal(undefined);
    expect(fieldOf({ projectId: 'acme-prod', namePrefix: 'team-a.' })).to.equal(undefined);
  });

  it('validates at construction and states its capabilities honestly', function () {
    expect(() => new PubSubTransport({ projectId: '' })).to.throw(ConfigurationError);
    const emulated = new PubSubTransport({ projectId: 'acme-test', emulatorHost: '127.0.0.1:8085' });
    expect(emulated.capabilities).to.include({ persistent: false, restartable: false, ordering: 'key' });
    expect(emulated.capabilities.maxMessageBytes).to.be.below(4 * 1024 * 1024);
    const real = new PubSubTransport({ projectId: 'acme-prod', auth, deadLetterPolicy: false });
    expect(real.capabilities).to.include({
      persistent: true,
      nativeDeadLetter: false,
      delayedRetry: true,
      maxMessageBytes: 10_000_000,
    });
    return Promise.all([emulated.close(), real.close()]);
  });
});
