import { expect } from 'chai';
import { ConfigurationError } from '@omnibus/core';
import type { SqsSnsTransportOptions } from '../src/index.js';
import { SqsSnsTransport } from '../src/index.js';

function fieldOf(options: unknown): string | undefined {
  try {
    new SqsSnsTransport(options as SqsSnsTransportOptions);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigurationError);
    return (error as ConfigurationError).field;
  }
  return undefined;
}

describe('SqsSnsTransport options', function () {
  it('has defaults: SDK chain for region and credentials, 30 s visibility, 20 s polls, 10 deliveries', function () {
    const transport = new SqsSnsTransport();
    expect(transport.options).to.include({
      region: undefined,
      endpoint: undefined,
      credentials: undefined,
      namePrefix: '',
      fifo: false,
      visibilityTimeoutSeconds: 30,
      waitTimeSeconds: 20,
      maxDeliveries: 10,
    });
    expect(transport.capabilities).to.include({
      ordering: 'key',
      delayedRetry: true,
      nativeDeadLetter: true,
      consumerGroups: true,
      maxMessageBytes: 262_144,
    });
  });

  it('accepts a full configuration', function () {
    const transport = new SqsSnsTransport({
      region: 'us-gov-west-1',
      endpoint: 'https://sqs.example.com:4566',
      credentials: { accessKeyId: 'AKIA', secretAccessKey: 'secret', sessionToken: 'token' },
      namePrefix: 'prod_team-a-',
      fifo: true,
      visibilityTimeoutSeconds: 43_200,
      waitTimeSeconds: 1,
      maxDeliveries: 1_000,
    });
    expect(transport.options.fifo).to.equal(true);
  });

  it('names the offending field', function () {
    expect(fieldOf(null)).to.equal('options');
    expect(fieldOf({ region: 'Europe' })).to.equal('region');
    expect(fieldOf({ region: 42 })).to.equal('region');
    expect(fieldOf({ endpoint: 'localhost:4566' })).to.equal('endpoint');
    expect(fieldOf({ endpoint: 'ftp://127.0.0.1' })).to.equal('endpoint');
    expect(fieldOf({ credentials: 'key:secret' })).to.equal('credentials');
    expect(fieldOf({ credentials: { accessKeyId: '', secretAccessKey: 's' } })).to.equal(
      'credentials.accessKeyId',
    );
    expect(fieldOf({ credentials: { accessKeyId: 'a' } })).to.equal('credentials.secretAccessKey');
    expect(fieldOf({ credentials: { accessKeyId: 'a', secretAccessKey: 's', sessionToken: '' } })).to.equal(
      'credentials.sessionToken',
    );
    expect(fieldOf({ namePrefix: 'prod.' })).to.equal('namePrefix');
    expect(fieldOf({ namePrefix: 'x'.repeat(41) })).to.equal('namePrefix');
    expect(fieldOf({ fifo: 'yes' })).to.equal('fifo');
    expect(fieldOf({ visibilityTimeoutSeconds: 0 })).to.equal('visibilityTimeoutSeconds');
    expect(fieldOf({ visibilityTimeoutSeconds: 43_201 })).to.equal('visibilityTimeoutSeconds');
    expect(fieldOf({ visibilityTimeoutSeconds: 1.5 })).to.equal('visibilityTimeoutSeconds');
    expect(fieldOf({ waitTimeSeconds: 0 })).to.equal('waitTimeSeconds');
    expect(fieldOf({ waitTimeSeconds: 21 })).to.equal('waitTimeSeconds');
    expect(fieldOf({ maxDeliveries: 0 })).to.equal('maxDeliveries');
    expect(fieldOf({ maxDeliveries: 1_001 })).to.equal('maxDeliveries');
    expect(fieldOf({ logger: {} })).to.equal('logger');
  });

  it('rejects a consumer concurrency that is not a positive integer', async function () {
    const transport = new SqsSnsTransport({ region: 'us-east-1' });
    const error = await transport
      .consume({ kind: 'queue', queue: 'q' }, async () => undefined, { concurrency: 0 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).to.be.instanceOf(ConfigurationError);
    expect((error as ConfigurationError).field).to.equal('concurrency');
    await transport.close();
  });

  it('rejects work after close with a typed error', async function () {
    const transport = new SqsSnsTransport({ region: 'us-east-1' });
    await transport.close();
    const error = await transport.publish({ kind: 'queue', queue: 'q' }, []).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.have.property('code', 'TRANSPORT_CLOSED');
    expect((await transport.health()).status).to.equal('down');
  });
});
