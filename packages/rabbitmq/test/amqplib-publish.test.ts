import { expect } from 'chai';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ConfirmChannel } from 'amqplib';
import type { Envelope } from '@omnibus/core';
import { Header } from '@omnibus/core';
import type { PublishOptions } from '../src/amqplib-publish.js';
import { directPublish, properties, publishFields } from '../src/amqplib-publish.js';
import { encodeEnvelope } from '../src/rabbitmq-codec.js';

// amqplib's own modules, which its package exports do not list: the driver relies on their shape.
const require = createRequire(import.meta.url);
const lib = join(dirname(require.resolve('amqplib')), 'lib');
const defs = require(join(lib, 'defs.js')) as {
  BasicPublish: number;
  BasicProperties: number;
  encodeMethod(method: number, channel: number, fields: object): Buffer;
  encodeProperties(properties: number, channel: number, size: number, fields: object): Buffer;
};
const args = require(join(lib, 'api_args.js')) as {
  publish(exchange: string, routingKey: string, options: object): object;
};
const model = require(join(lib, 'channel_model.js')) as {
  ConfirmChannel: { prototype: object };
  Channel: { prototype: object };
};

/** The method and content-header frames amqplib's `publish` writes for these options. */
function framesOfPublish(exchange: string, routingKey: string, options: PublishOptions): Buffer[] {
  const fieldsAndProperties = args.publish(exchange, routingKey, options);
  return [
    defs.encodeMethod(defs.BasicPublish, 3, fieldsAndProperties),
    defs.encodeProperties(defs.BasicProperties, 3, 256, fieldsAndProperties),
  ];
}

/** The same frames from what the driver hands `sendMessage`. */
function framesOfDirect(exchange: string, routingKey: string, options: PublishOptions): Buffer[] {
  return [
    defs.encodeMethod(defs.BasicPublish, 3, publishFields(exchange, routingKey, options)),
    defs.encodeProperties(defs.BasicProperties, 3, 256, properties(options)),
  ];
}

describe('publishing through amqplib 2.3 channel internals', function () {
  const envelope: Envelope = {
    id: '0190b6a8-0000-7000-8000-000000000001',
    type: 'orders.OrderPlaced',
    key: 'order-1',
    headers: {
      [Header.specVersion]: '1.0',
      [Header.contentType]: 'application/json',
      [Header.source]: 'orders',
      [Header.time]: '2026-12-07T17:00:00.000Z',
      tenant: 'acme',
      ['__proto__']: 'a header like any other',
    },
    body: Buffer.from('{"orderId":"order-1"}'),
  };

  it('is the amqplib version the driver pins', function () {
    const pinned = (require('../../package.json') as { dependencies: Record<string, string> }).dependencies;
    const installed = (require(join(lib, '..', 'package.json')) as { version: string }).version;
    expect(pinned['amqplib']).to.equal(installed);
  });

  it('has the shape ConfirmChannel#publish relies on: Args.publish, then sendMessage, then pushConfirmCallback', function () {
    const confirmPublish = String((model.ConfirmChannel.prototype as { publish: unknown }).publish);
    const channelPublish = String((model.Channel.prototype as { publish: unknown }).publish);
    expect(confirmPublish).to.match(/super\.publish\([^)]*\);\s*this\.pushConfirmCallback\(cb\)/);
    expect(channelPublish).to.match(
      /Args\.publish\([^)]*\);\s*return this\.sendMessage\(fieldsAndProps, fieldsAndProps, content\)/,
    );
    const channel = Object.create(model.ConfirmChannel.prototype) as ConfirmChannel;
    expect(directPublish(channel), 'sendMessage and pushConfirmCallback found').to.be.a('function');
  });

  it('writes the same frames as channel.publish for every message the driver sends', function () {
    const first = encodeEnvelope(envelope).options;
    const retried = encodeEnvelope(envelope, 3, 'seal').options;
    const bare = encodeEnvelope({ id: '', type: '', headers: {}, body: Buffer.alloc(0) }).options;
    const cases: PublishOptions[] = [
      first,
      retried,
      bare,
      { ...retried, expiration: '5000' },
      { ...first, persistent: false },
      { messageId: 'x', headers: {} },
    ];
    for (const options of cases) {
      expect(framesOfDirect('orders', 'orders.OrderPlaced', options)).to.deep.equal(
        framesOfPublish('orders', 'orders.OrderPlaced', options),
      );
      expect(framesOfDirect('', 'a-queue', options)).to.deep.equal(framesOfPublish('', 'a-queue', options));
    }
    // The headers really are on the wire: not an empty table on both sides.
    expect(framesOfDirect('', 'q', first)[1]!.includes('cloudEvents_source')).to.equal(true);
    expect(framesOfDirect('', 'q', first)[1]!.includes('__proto__')).to.equal(true);
  });

  it('is unavailable on a channel without those internals, so the publisher falls back to publish', function () {
    expect(directPublish({} as ConfirmChannel)).to.equal(undefined);
  });
});
