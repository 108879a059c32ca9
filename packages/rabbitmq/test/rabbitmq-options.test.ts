import { expect } from 'chai';
import { ConfigurationError } from '@omnibus/core';
import type { RabbitMqTransportOptions } from '../src/index.js';
import { RabbitMqTransport } from '../src/index.js';
import { connectArguments, resolveRabbitMqOptions } from '../src/rabbitmq-options.js';

function fieldOf(options: RabbitMqTransportOptions): string | undefined {
  try {
    new RabbitMqTransport(options);
    return undefined;
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigurationError);
    return (error as ConfigurationError).field;
  }
}

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('RabbitMqTransport options', function () {
  it('accepts no options at all, without contacting a broker', function () {
    const transport = new RabbitMqTransport();
    expect(transport.name).to.equal('rabbitmq');
    expect(transport.capabilities).to.include({ persistent: true, ordering: 'key', delayedRetry: true });
    expect(transport.capabilities.maxMessageBytes).to.equal(16 * 1024 * 1024);
  });

  it('names the url when it is not an amqp(s) url', function () {
    expect(fieldOf({ url: '' })).to.equal('url');
    expect(fieldOf({ url: 'not a url' })).to.equal('url');
    expect(fieldOf({ url: 'http://127.0.0.1:5672' })).to.equal('url');
    expect(fieldOf({ url: 'amqp://h/a/b' })).to.equal('url');
    expect(fieldOf({ url: 'amqp://h/%zz' })).to.equal('url');
    expect(fieldOf({ url: 'amqps://user:secret@broker.example.com:5671/prod' })).to.equal(undefined);
  });

  it('keeps the password out of the error message', function () {
    expect(() => new RabbitMqTransport({ url: 'amqp://user:hunter2@[bad' })).to.throw(
      ConfigurationError,
      /url/,
    );
    try {
      new RabbitMqTransport({ url: 'amqp://user:hunter2@[bad' });
    } catch (error) {
      expect((error as Error).message).not.to.contain('hunter2');
    }
  });

  it('validates TLS material and wants amqps:// for it', function () {
    const amqps = 'amqps://broker.example.com';
    expect(fieldOf({ url: 'amqp://broker.example.com', tls: { ca: PEM } })).to.equal('tls');
    expect(fieldOf({ url: amqps, tls: { ca: 42 as unknown as string } })).to.equal('tls.ca');
    expect(fieldOf({ url: amqps, tls: { ca: [] } })).to.equal('tls.ca');
    expect(fieldOf({ url: amqps, tls: { cert: PEM } })).to.equal('tls.key');
    expect(fieldOf({ url: amqps, tls: { key: PEM } })).to.equal('tls.cert');
    expect(fieldOf({ url: amqps, tls: { cert: {} as string, key: PEM } })).to.equal('tls.cert');
    expect(
      fieldOf({ url: amqps, tls: { ca: [PEM, Buffer.from(PEM)], cert: PEM, key: Buffer.from('k') } }),
    ).to.equal(undefined);
  });

  it('validates the heartbeat, vhost, name prefix and numeric limits', function () {
    expect(fieldOf({ heartbeatSeconds: -1 })).to.equal('heartbeatSeconds');
    expect(fieldOf({ heartbeatSeconds: 1.5 })).to.equal('heartbeatSeconds');
    expect(fieldOf({ heartbeatSeconds: 0 })).to.equal(undefined);
    expect(fieldOf({ vhost: '' })).to.equal('vhost');
    expect(fieldOf({ namePrefix: 'amq.mine.' })).to.equal('namePrefix');
    expect(fieldOf({ namePrefix: 'x'.repeat(240) })).to.equal('namePrefix');
    expect(fieldOf({ namePrefix: 'staging.' })).to.equal(undefined);
    expect(fieldOf({ reconnect: { initialMs: 0 } })).to.equal('reconnect.initialMs');
    expect(fieldOf({ reconnect: { initialMs: 500, maxMs: 100 } })).to.equal('reconnect.maxMs');
    expect(fieldOf({ connectAttempts: 0 })).to.equal('connectAttempts');
    expect(fieldOf({ maxMessageBytes: 0 })).to.equal('maxMessageBytes');
    expect(fieldOf({ deliveryLimit: 0 })).to.equal('deliveryLimit');
    expect(fieldOf({ connectionName: '' })).to.equal('connectionName');
    expect(fieldOf({ logger: {} as never })).to.equal('logger');
  });

  it('reports the configured message size limit as a capability', function () {
    expect(new RabbitMqTransport({ maxMessageBytes: 1024 }).capabilities.maxMessageBytes).to.equal(1024);
  });

  it('maps the url, vhost, heartbeat and TLS options onto amqplib', function () {
    const { server, socket } = connectArguments(
      resolveRabbitMqOptions({
        url: 'amqps://app%40corp:p%3Ass@broker.example.com/orders%2Fprod',
        heartbeatSeconds: 15,
        tls: { ca: PEM, cert: PEM, key: PEM },
        connectionName: 'payments',
      }),
    );
    expect(server).to.include({
      protocol: 'amqps',
      hostname: 'broker.example.com',
      port: 5671,
      username: 'app@corp',
      password: 'p:ss',
      heartbeat: 15,
    });
    // amqplib unescapes the vhost once: what it ends up with is the decoded name.
    expect(decodeURIComponent(server.vhost!)).to.equal('orders/prod');
    expect(socket).to.include({ ca: PEM, cert: PEM, key: PEM });
    expect(socket.clientProperties).to.deep.equal({ connection_name: 'payments' });

    const plain = connectArguments(
      resolveRabbitMqOptions({ url: 'amqp://127.0.0.1', vhost: 'other' }),
    ).server;
    expect(plain).to.include({ port: 5672, username: 'guest', password: 'guest' });
    expect(decodeURIComponent(plain.vhost!)).to.equal('other');
    expect(plain).not.to.have.property('heartbeat');
    expect(
      decodeURIComponent(connectArguments(resolveRabbitMqOptions({ url: 'amqp://h' })).server.vhost!),
    ).to.equal('/');
  });
});
