import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { v1, type protos } from '@google-cloud/pubsub';
import { describeIntegration } from '@omnibus/core/testing';
import { expect } from 'chai';
import { deleteProject, probeEmulator, rawClient, runProjectId } from './emulator.js';

type Received = protos.google.pubsub.v1.IReceivedMessage;

/**
 * The broker lab's emulator (scripts/pubsub-emulator) keeps what Pub/Sub keeps across
 * `scripts/brokers restart pubsub`: every message a subscription has not acknowledged, leased or not,
 * for that subscription alone, in order on an ordered subscription. Read with the unary Pull API, so
 * that what each subscription holds is known exactly (a pull leases what it returns).
 */
describeIntegration('pubsub lab emulator', probeEmulator, function () {
  this.timeout(180_000);
  const projectId = runProjectId();
  const raw = rawClient(projectId);
  let subscriber: v1.SubscriberClient;
  const path = (name: string) => `projects/${projectId}/subscriptions/${name}`;

  before(async function () {
    // The library's own way to a v1 client with its emulator settings (see PubSub.getClientConfig).
    subscriber = new v1.SubscriberClient(
      (await raw.getClientConfig()) as ConstructorParameters<typeof v1.SubscriberClient>[0],
    );
  });
  after(async function () {
    await subscriber.close();
    await raw.close();
    await deleteProject(projectId);
  });

  /** Pulls until the subscription has nothing available; acks what `ack` selects. */
  async function pullAll(name: string, ack: (m: Received) => boolean = () => false): Promise<Received[]> {
    const taken: Received[] = [];
    for (;;) {
      const [page] = await subscriber.pull({
        subscription: path(name),
        maxMessages: 1000,
        returnImmediately: true,
      });
      const received = page.receivedMessages ?? [];
      if (received.length === 0) return taken;
      taken.push(...received);
      const ackIds = received.filter(ack).map((m) => m.ackId!);
      if (ackIds.length > 0) await subscriber.acknowledge({ subscription: path(name), ackIds });
    }
  }

  /** Pulls one message at a time and acks it, `count` times: the order an ordered subscription gives. */
  async function pullInOrder(name: string, count: number): Promise<string[]> {
    const order: string[] = [];
    while (order.length < count) {
      const [page] = await subscriber.pull({ subscription: path(name), maxMessages: 1 });
      for (const m of page.receivedMessages ?? []) {
        order.push(m.message!.attributes!.n!);
        await subscriber.acknowledge({ subscription: path(name), ackIds: [m.ackId!] });
      }
    }
    return order;
  }

  const numbers = (messages: Received[]) =>
    messages.map((m) => Number(m.message!.attributes!.n)).sort((a, b) => a - b);
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

  it('keeps each subscription its unacknowledged messages, leased ones too, in order where ordered', async function () {
    const [topic] = await raw.createTopic('events');
    // `held` leases what it pulls for 600 s (the longest), so those are still leased at the restart.
    await topic.createSubscription('held', { ackDeadlineSeconds: 600 });
    await topic.createSubscription('untouched');
    await topic.createSubscription('drained');
    for (let n = 0; n < 30; n++) {
      await topic.publishMessage({
        data: Buffer.from(`message ${n}`),
        attributes: { n: String(n), kind: 'x' },
      });
    }
    const [orderedTopic] = await raw.createTopic('ordered');
    await orderedTopic.createSubscription('ordered', {
      enableMessageOrdering: true,
      ackDeadlineSeconds: 600,
    });
    const ordered = raw.topic(orderedTopic.name, { messageOrdering: true });
    for (let n = 0; n < 10; n++) {
      await ordered.publishMessage({
        data: Buffer.from(`in order ${n}`),
        orderingKey: 'k',
        attributes: { n: String(n) },
      });
    }

    // held: 0-9 acknowledged, 10-29 leased; untouched: never delivered; drained: all acknowledged.
    expect(numbers(await pullAll('held', (m) => Number(m.message!.attributes!.n) < 10))).to.deep.equal(
      range(0, 30),
    );
    expect(await pullAll('drained', () => true)).to.have.length(30);
    // ordered: 0 acknowledged, 1 leased, 2-9 waiting behind it.
    expect(await pullInOrder('ordered', 1)).to.deep.equal(['0']);
    const [leased] = await subscriber.pull({ subscription: path('ordered'), maxMessages: 10 });
    expect(leased.receivedMessages!.map((m) => m.message!.attributes!.n)).to.deep.equal(['1']);

    await promisify(execFile)(new URL('../../../../scripts/brokers', import.meta.url).pathname, [
      'restart',
      'pubsub',
    ]);

    const held = await pullAll('held');
    expect(numbers(held)).to.deep.equal(range(10, 30));
    const first = held.find((m) => m.message!.attributes!.n === '10')!.message!;
    expect(Buffer.from(first.data as Uint8Array).toString()).to.equal('message 10');
    expect(first.attributes).to.deep.equal({ n: '10', kind: 'x' });
    expect(numbers(await pullAll('untouched'))).to.deep.equal(range(0, 30));
    expect(await pullAll('drained')).to.deep.equal([]);
    expect(await pullInOrder('ordered', 9)).to.deep.equal(range(1, 10).map(String));
  });
});
