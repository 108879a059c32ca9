import 'reflect-metadata';
import type { Destination, Envelope } from '@omnibus/core';
import { describeIntegration, runSecurityConformance } from '@omnibus/core/testing';
import { PubSubNames, PubSubTransport } from '../src/index.js';
import { deleteProject, emulatorHost, probeEmulator, rawClient, runProjectId } from './emulator.js';

const projectId = runProjectId();
const names = new PubSubNames('');

/**
 * #16.6 with the Pub/Sub client: attributes named `omnibus-attempt`, `x-delivery-count` (the server
 * counts `deliveryAttempt` itself) and `omnibus-target-group` do not shorten the retry budget or make a
 * group drop the message.
 */
describeIntegration('pubsub hostile producers', probeEmulator, function () {
  const raw = rawClient(projectId);
  after(async function () {
    this.timeout(60_000);
    await raw.close();
    await deleteProject(projectId);
  });

  async function publish(destination: Destination, envelope: Envelope): Promise<void> {
    const attributes: Record<string, string> = { 'ce-id': envelope.id, 'ce-type': envelope.type };
    for (const [name, value] of Object.entries(envelope.headers)) {
      const attribute =
        name === 'datacontenttype' ? 'content-type' : name.includes('-') ? name : `ce-${name}`;
      attributes[attribute] = value;
    }
    const topic =
      destination.kind === 'channel'
        ? names.channelTopic(destination.channel)
        : names.queueTopic(destination.queue);
    await raw.topic(topic).publishMessage({ data: Buffer.from(envelope.body), attributes });
  }

  runSecurityConformance('pubsub client', {
    createTransport: async () => {
      const transport = new PubSubTransport({ projectId, emulatorHost });
      await transport.connect();
      return transport;
    },
    only: 'forged headers',
    publishForeign: (_transport, destination, envelope) => publish(destination, envelope),
  });
});
