import 'reflect-metadata';
import type { ChannelModel } from 'amqplib';
import { connect } from 'amqplib';
import type { Destination, Envelope } from '@omnibus/core';
import {
  SECURITY_CONFORMANCE_SIGNING,
  describeIntegration,
  runSecurityConformance,
} from '@omnibus/core/testing';
import type { RabbitMqTransportOptions } from '../src/index.js';
import { RabbitMqNames, RabbitMqTransport } from '../src/index.js';

const url = process.env.OMNIBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const names = new RabbitMqNames('');

async function probe(): Promise<void> {
  const connection = await connect(url, { timeout: 3_000 });
  await connection.close();
}

/**
 * #16.6 with a plain amqplib producer: `omnibus-attempt` and `x-delivery-count` written by a producer
 * do not shorten the retry budget, and `omnibus-target-group` does not make a group drop the message.
 * Events go through the channel's exchange, commands straight to the queue (the default exchange) with a
 * forged `x-death` of our delay queue; only a delivery through our retry exchange has its attempt believed.
 */
describeIntegration('rabbitmq hostile producers', probe, () => {
  let raw: ChannelModel;
  before(async function () {
    raw = await connect(url);
  });
  after(async function () {
    await raw.close();
  });

  async function publish(destination: Destination, envelope: Envelope): Promise<void> {
    const headers: Record<string, unknown> = {
      cloudEvents_id: envelope.id,
      cloudEvents_type: envelope.type,
    };
    for (const [name, value] of Object.entries(envelope.headers)) {
      if (name === 'datacontenttype') continue;
      if (name === 'omnibus-attempt' || name === 'x-delivery-count') headers[name] = Number(value);
      else headers[name.includes('-') ? name : `cloudEvents_${name}`] = value;
    }
    const options = { contentType: envelope.headers.datacontenttype, messageId: envelope.id, headers };
    if (headers['omnibus-attempt'] !== undefined && destination.kind === 'queue') {
      // As if it had expired in our delay queue: RabbitMQ 3.x passes a producer's x-death on as written.
      const queue = names.queue({ kind: 'queue', queue: destination.queue });
      headers['x-death'] = [
        { queue: `${queue}.delay.1`, reason: 'expired', count: 1, exchange: names.retryExchange },
      ];
    }
    const channel = await raw.createConfirmChannel();
    const body = Buffer.from(envelope.body);
    if (destination.kind === 'channel') {
      channel.publish(names.exchange(destination.channel), envelope.type, body, options);
    } else {
      channel.sendToQueue(names.queue({ kind: 'queue', queue: destination.queue }), body, options);
    }
    await channel.waitForConfirms();
    await channel.close();
  }

  for (const [title, options] of [
    ['with signing (sealed attempts only)', { signing: SECURITY_CONFORMANCE_SIGNING }],
    ['without signing (only through our retry exchange)', {}],
  ] as [string, RabbitMqTransportOptions][]) {
    runSecurityConformance(`rabbitmq amqplib ${title}`, {
      createTransport: async () => {
        const transport = new RabbitMqTransport({ url, ...options });
        await transport.connect();
        return transport;
      },
      only: 'forged headers',
      publishForeign: (_transport, destination, envelope) => publish(destination, envelope),
    });
  }
});
