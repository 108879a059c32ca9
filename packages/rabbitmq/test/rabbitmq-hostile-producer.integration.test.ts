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
 * Events go through the channel's exchange, commands straight to the queue (the default exchange).
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
    ['without signing (events: not through the exchange)', {}],
  ] as [string, RabbitMqTransportOptions][]) {
    const signed = options.signing !== undefined;
    runSecurityConformance(`rabbitmq amqplib ${title}`, {
      createTransport: async () => {
        const transport = new RabbitMqTransport({ url, ...options });
        await transport.connect();
        return transport;
      },
      only: 'forged headers',
      publishForeign: (_transport, destination, envelope) =>
        // Without keys a command sent straight to its queue is on our retry route: only events are tested.
        !signed && destination.kind === 'queue'
          ? publish(destination, { ...envelope, headers: withoutAttempt(envelope.headers) })
          : publish(destination, envelope),
    });
  }
});

function withoutAttempt(headers: Readonly<Record<string, string>>): Record<string, string> {
  const rest = { ...headers };
  delete rest['omnibus-attempt'];
  return rest;
}
