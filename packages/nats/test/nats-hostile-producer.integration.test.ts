import 'reflect-metadata';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Destination, Envelope } from '@omnibus/core';
import { describeIntegration, runSecurityConformance } from '@omnibus/core/testing';
import { NatsNames, NatsTransport } from '../src/index.js';

const url = process.env.OMNIBUS_NATS_URL ?? 'nats://127.0.0.1:4222';
const names = new NatsNames('omnibus');

async function probe(): Promise<void> {
  const nc = await connect({ servers: url, timeout: 3_000, reconnect: false });
  try {
    await jetstreamManager(nc);
  } finally {
    await nc.close();
  }
}

/**
 * #16.6 with plain @nats-io/jetstream: headers named `omnibus-attempt`, `x-delivery-count` (JetStream
 * counts `num_delivered` itself) and `omnibus-target-group` do not shorten the retry budget or make a
 * group drop the message.
 */
describeIntegration('nats hostile producers', probe, () => {
  let raw: NatsConnection;
  const transports: NatsTransport[] = [];
  before(async function () {
    raw = await connect({ servers: url });
  });
  after(async function () {
    await Promise.allSettled(transports.map((transport) => transport.close()));
    await raw.close();
  });

  async function publish(destination: Destination, envelope: Envelope): Promise<void> {
    const headers = natsHeaders();
    headers.set('ce-id', envelope.id);
    headers.set('ce-type', envelope.type);
    for (const [name, value] of Object.entries(envelope.headers)) {
      headers.set(
        name === 'datacontenttype' ? 'content-type' : name.includes('-') ? name : `ce-${name}`,
        value,
      );
    }
    const subject =
      destination.kind === 'channel'
        ? names.channelSubject(destination.channel)
        : names.queueSubject(destination.queue);
    await jetstream(raw).publish(subject, Buffer.from(envelope.body), { headers });
  }

  runSecurityConformance('nats jetstream client', {
    createTransport: async () => {
      const transport = new NatsTransport({ servers: url });
      await transport.connect();
      transports.push(transport);
      return transport;
    },
    only: 'forged headers',
    publishForeign: (_transport, destination, envelope) => publish(destination, envelope),
  });
});
