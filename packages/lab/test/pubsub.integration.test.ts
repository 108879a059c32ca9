import { PubSub, type Message } from '@google-cloud/pubsub';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { expect } from 'chai';
import { brokerEnv } from '../src/index.js';
import { unreachable } from './unreachable.js';

// Proves the lab's Pub/Sub emulator (pstest), with @google-cloud/pubsub alone: no Omnibus code runs here.
const host = brokerEnv.pubsubEmulatorHost;

function client(): PubSub {
  // emulatorMode: plaintext gRPC without credentials, whatever the machine's Google setup says.
  return new PubSub({
    projectId: 'omnibus-lab',
    apiEndpoint: host,
    emulatorMode: true,
    // Known up front, so the auth library never asks a GCE metadata server (and warns when there is none).
    universeDomain: 'googleapis.com',
  });
}

async function probe(): Promise<void> {
  const pubsub = client();
  try {
    await pubsub.getTopics({ gaxOpts: { timeout: 3_000, retry: null } });
  } catch (error) {
    throw unreachable(`the Pub/Sub emulator at ${host}`, error);
  } finally {
    await pubsub.close();
  }
}

describeIntegration(`lab: Pub/Sub emulator at ${host}`, probe, () => {
  it('creates a topic and a subscription, publishes one message and receives it', async () => {
    const name = uniqueName('lab-pubsub');
    const pubsub = client();
    try {
      const [topic] = await pubsub.createTopic(name);
      const [subscription] = await topic.createSubscription(name, { ackDeadlineSeconds: 10 });
      const received: Message[] = [];
      subscription.on('message', (message: Message) => {
        received.push(message);
        message.ack();
      });

      const id = await topic.publishMessage({
        data: Buffer.from('hello from the lab'),
        attributes: { kind: 'lab' },
      });
      await waitFor(() => received.length > 0, { timeoutMs: 15_000, message: `a message on ${name}` });

      expect(received).to.have.length(1);
      expect(received[0]!.id).to.equal(id);
      expect(received[0]!.data.toString()).to.equal('hello from the lab');
      expect(received[0]!.attributes).to.deep.equal({ kind: 'lab' });
      await subscription.close();
      await subscription.delete();
      await topic.delete();
    } finally {
      await pubsub.close();
    }
  });
});
