import 'reflect-metadata';
import rhea from 'rhea';
import type { Connection, EventContext, Message } from 'rhea';
import type { Destination, Envelope } from '@omnibus/core';
import {
  SECURITY_CONFORMANCE_SIGNING,
  describeIntegration,
  runSecurityConformance,
} from '@omnibus/core/testing';
import { Amqp10Names, Amqp10Transport } from '../src/index.js';
import { probeBroker, rawConnection, url } from './broker.js';

const names = new Amqp10Names('');

/** Sends one message with a plain rhea sender and waits for the broker to accept it. */
function send(connection: Connection, destination: Destination, message: Message): Promise<void> {
  const target =
    destination.kind === 'channel' ? names.channel(destination.channel) : names.queue(destination.queue);
  const sender = connection.open_sender({
    target: { address: target.address, capabilities: [target.capability] },
  });
  return new Promise((resolve, reject) => {
    sender.once('sendable', () => sender.send(message));
    sender.once('accepted', () => {
      sender.close();
      resolve();
    });
    sender.once('rejected', (context: EventContext) =>
      reject(new Error(`rejected: ${JSON.stringify(context.delivery?.remote_state)}`)),
    );
  });
}

/**
 * #16.6 with a plain rhea producer: `omnibus-attempt` as an application property does not shorten the
 * retry budget of a transport with `signing`, and `omnibus-target-group` does not make a group drop the
 * message.
 */
describeIntegration('amqp10 hostile producers (ActiveMQ Artemis)', probeBroker, () => {
  let raw: Connection;
  before(async function () {
    raw = await rawConnection();
  });
  after(function () {
    raw.close();
  });

  async function createTransport(): Promise<Amqp10Transport> {
    const transport = new Amqp10Transport({ url, signing: SECURITY_CONFORMANCE_SIGNING });
    await transport.connect();
    return transport;
  }

  runSecurityConformance('amqp10 rhea', {
    createTransport,
    only: 'forged headers',
    publishForeign: (_transport, destination, envelope: Envelope) => {
      const properties: Record<string, string | number> = {
        'cloudEvents:id': envelope.id,
        'cloudEvents:type': envelope.type,
      };
      // The header's delivery-count is left alone: Artemis passes a producer's value through on the first
      // delivery (it writes its own only on redeliveries): a capped gap, see
      // amqp10-forged-delivery-count.integration.test.ts and docs/security.md.
      for (const [name, value] of Object.entries(envelope.headers)) {
        if (name === 'datacontenttype') continue;
        if (name === 'omnibus-attempt') properties[name] = Number(value);
        else properties[name.includes('-') ? name : `cloudEvents:${name}`] = value;
      }
      return send(raw, destination, {
        message_id: envelope.id,
        content_type: envelope.headers.datacontenttype,
        application_properties: properties,
        body: rhea.message.data_section(Buffer.from(envelope.body)) as unknown,
      });
    },
  });
});
