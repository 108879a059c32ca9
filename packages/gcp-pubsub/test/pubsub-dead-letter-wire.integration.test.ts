import 'reflect-metadata';
import { expect } from 'chai';
import type { Message } from '@google-cloud/pubsub';
import { Bus, Handle, NonRetriableError, Subscriber, defineEvent, silentLogger } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { PubSubNames, PubSubTransport } from '../src/index.js';
import { deleteProject, emulatorHost, probeEmulator, rawClient, runProjectId } from './emulator.js';

const projectId = runProjectId();
const names = new PubSubNames('');

/**
 * #15.1 on the wire: a dead-letter copy, pulled from the dead-letter subscription with the Pub/Sub client,
 * carries exactly the original's attributes plus the `omnibus-error-*` ones, and no empty CloudEvents id
 * or type.
 */
describeIntegration('pubsub dead letters on the wire', probeEmulator, function () {
  this.timeout(90_000);
  const raw = rawClient(projectId);
  let transport: PubSubTransport;
  let bus: Bus | undefined;

  before(async function () {
    transport = new PubSubTransport({ projectId, emulatorHost });
    await transport.connect();
  });
  after(async function () {
    await bus?.stop();
    await transport.close();
    await raw.close();
    await deleteProject(projectId);
  });

  async function pull(subscription: string, count: number): Promise<Message[]> {
    const received: Message[] = [];
    const reader = raw.subscription(subscription);
    reader.on('message', (message: Message) => {
      received.push(message);
      message.ack();
    });
    try {
      await waitFor(() => received.length >= count, { timeoutMs: 30_000, message: `${count} dead letters` });
    } finally {
      await reader.close();
    }
    return received;
  }

  it('copies exactly the original attributes plus omnibus-error-*', async function () {
    const channel = uniqueName('dlwire');
    const group = uniqueName('g');
    const Thing = defineEvent<{ n: number }>({ type: 'pubsub.WireThing', channel });
    @Subscriber({ group })
    class Refusing {
      @Handle(Thing)
      thing() {
        throw new NonRetriableError('refused');
      }
    }
    bus = new Bus({
      transport,
      serviceName: 'pubsub-wire',
      handlers: [Refusing],
      closeTransport: false,
      logger: silentLogger,
    });
    await bus.start();
    const ours = {
      'ce-id': 'wire-1',
      'ce-type': 'pubsub.WireThing',
      'ce-source': 'a-foreign-client',
      'ce-specversion': '1.0',
      'content-type': 'application/json',
      'x-tenant': 't1',
    };
    const topic = raw.topic(names.channelTopic(channel));
    await topic.publishMessage({ data: Buffer.from('{"n":1}'), attributes: ours });
    // A foreign message with no id and no type, one custom attribute.
    await topic.publishMessage({ data: Buffer.from('{"n":2}'), attributes: { 'x-foreign': 'v' } });
    const dead = await pull(names.deadLetterTopic({ kind: 'subscription', channel, group }), 2);
    const byBody = new Map(dead.map((message) => [message.data.toString(), message.attributes]));
    const original = (attributes: Record<string, string>) =>
      Object.keys(attributes)
        .filter((name) => !name.startsWith('omnibus-error-'))
        .sort();

    const typed = byBody.get('{"n":1}')!;
    expect(original(typed)).to.deep.equal(Object.keys(ours).sort());
    for (const [name, value] of Object.entries(ours)) expect(typed[name], name).to.equal(value);
    expect(typed['omnibus-error-code']).to.equal('NON_RETRIABLE');

    const bare = byBody.get('{"n":2}')!;
    expect(original(bare)).to.deep.equal(['x-foreign']);
    expect(bare['omnibus-error-code']).to.equal('MISSING_HEADER');
    for (const attributes of [typed, bare]) {
      expect(Object.keys(attributes)).to.include.members(['omnibus-error-code', 'omnibus-error-message']);
    }
  });
});
