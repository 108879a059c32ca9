import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Message } from '@google-cloud/pubsub';
import type { Envelope, MessageContext, Source } from '@omnibus/core';
import {
  Bus,
  Handle,
  Header,
  Subscriber,
  constant,
  defineEvent,
  isOmnibusError,
  readFailure,
  uuidv7,
} from '@omnibus/core';
import type { Consumer, Delivery } from '@omnibus/core/transport';
import {
  describeIntegration,
  runRequestReplyConformance,
  runTransportConformance,
  uniqueName,
  waitFor,
} from '@omnibus/core/testing';
import { expect } from 'chai';
import { PubSubTransport, PubSubNames } from '../src/index.js';
import { MAX_DELIVERIES_EXCEEDED } from '../src/server-dead-letters.js';
import { deleteProject, emulatorHost, probeEmulator, rawClient, runProjectId } from './emulator.js';

const projectId = runProjectId();
const names = new PubSubNames('');

async function connected(options: Partial<ConstructorParameters<typeof PubSubTransport>[0]> = {}) {
  const transport = new PubSubTransport({ projectId, emulatorHost, ...options });
  await transport.connect();
  return transport;
}

function envelope(overrides: Partial<Envelope> = {}): Envelope {
  const id = uuidv7();
  return {
    id,
    type: 'test.Message',
    headers: { [Header.specVersion]: '1.0', [Header.contentType]: 'application/json' },
    body: Buffer.from(JSON.stringify({ id })),
    ...overrides,
  };
}

describeIntegration('pubsub', probeEmulator, function () {
  after(async function () {
    this.timeout(60_000);
    await deleteProject(projectId);
    console.log(
      '\n  pubsub: the conformance reconnect test is skipped: pstest keeps messages in memory only (an emulator' +
        '\n  claims neither restartable nor persistent); the lab wrapper keeps them across a restart' +
        '\n  (emulator-restart.integration.test.ts), but one loaded run of the 2,000-message test timed out and' +
        '\n  is not explained yet. "survives a pstest restart" below shows publisher and subscriber recover.',
    );
  });

  runTransportConformance('pubsub', {
    createTransport: () => connected(),
    createUnconnectedTransport: () => new PubSubTransport({ projectId, emulatorHost }),
    waitMs: 15_000,
  });
  runRequestReplyConformance('pubsub', {
    createTransport: () => connected(),
    // Publishing to a topic that does not exist is NOT_FOUND: NOT_PROVISIONED.
    failsFastWithoutResponder: true,
    waitMs: 15_000,
  });
  // Again with the server's dead-letter policy on every subscription (the default on Google Cloud).
  runTransportConformance('pubsub with dead-letter policies', {
    createTransport: () => connected({ deadLetterPolicy: true }),
    createUnconnectedTransport: () =>
      new PubSubTransport({ projectId, emulatorHost, deadLetterPolicy: true }),
    waitMs: 15_000,
  });

  describe('pubsub transport specifics', function () {
    this.timeout(60_000);
    let transport: PubSubTransport;
    const consumers: Consumer[] = [];
    const raw = rawClient(projectId);

    beforeEach(async function () {
      transport = await connected();
    });
    afterEach(async function () {
      await Promise.allSettled(consumers.splice(0).map((consumer) => consumer.close()));
      await transport.close();
    });
    after(async function () {
      await raw.close();
    });

    async function consume(
      source: Source,
      sink: (d: Delivery) => Promise<void>,
      concurrency = 4,
      on: PubSubTransport = transport,
    ) {
      const consumer = await on.consume(source, sink, { concurrency });
      consumers.push(consumer);
      return consumer;
    }

    /** A transport that puts the server's dead-letter policy on its subscriptions (off by default on pstest). */
    const extra: PubSubTransport[] = [];
    afterEach(async function () {
      await Promise.allSettled(extra.splice(0).map((t) => t.close()));
    });
    async function withPolicy(): Promise<PubSubTransport> {
      const policed = await connected({ deadLetterPolicy: true });
      extra.push(policed);
      return policed;
    }

    /** Reads a subscription with the raw client, acking, to see the wire format. */
    async function rawMessages(subscription: string, count: number): Promise<Message[]> {
      const received: Message[] = [];
      const reader = raw.subscription(subscription);
      reader.on('message', (message: Message) => {
        received.push(message);
        message.ack();
      });
      try {
        await waitFor(() => received.length >= count, {
          timeoutMs: 10_000,
          message: `${count} raw messages`,
        });
      } finally {
        await reader.close();
      }
      return received;
    }

    it('writes CloudEvents binary-mode attributes and reads them back', async function () {
      const channel = uniqueName('ch');
      const group = uniqueName('g');
      await transport.provision({ channels: [{ name: channel }], subscriptions: [{ channel, group }] });
      const sent = envelope({
        key: 'order-7',
        headers: {
          [Header.specVersion]: '1.0',
          [Header.contentType]: 'application/json',
          [Header.source]: 'orders',
          [Header.correlationId]: 'c-1',
          'x-tenant': 'acme',
        },
      });
      await transport.publish({ kind: 'channel', channel }, [sent]);
      const [message] = await rawMessages(names.groupSubscription(channel, group), 1);
      expect(message!.attributes).to.deep.equal({
        'ce-id': sent.id,
        'ce-type': 'test.Message',
        'ce-specversion': '1.0',
        'content-type': 'application/json',
        'ce-source': 'orders',
        'ce-correlationid': 'c-1',
        'ce-partitionkey': 'order-7',
        'x-tenant': 'acme',
      });
      expect(message!.orderingKey ?? '').to.equal('', 'no ordering key on an unordered channel');
    });

    it('uses the key as the ordering key on an ordered channel', async function () {
      const channel = uniqueName('ch');
      const group = uniqueName('g');
      await transport.provision({
        channels: [{ name: channel, ordered: true }],
        subscriptions: [{ channel, group }],
      });
      const [metadata] = await raw.subscription(names.groupSubscription(channel, group)).getMetadata();
      expect(metadata.enableMessageOrdering).to.equal(true);
      await transport.publish({ kind: 'channel', channel }, [envelope({ key: 'order-8' })]);
      const [message] = await rawMessages(names.groupSubscription(channel, group), 1);
      expect(message!.orderingKey).to.equal('order-8');
      expect(message!.attributes).not.to.have.property('ce-partitionkey');
    });

    it('resolves publishing with the server message ids', async function () {
      const queue = uniqueName('q');
      await transport.provision({ queues: [{ name: queue }] });
      const ids = await transport.publishWithIds({ kind: 'queue', queue }, [
        envelope(),
        envelope(),
        envelope(),
      ]);
      expect(ids).to.have.length(3);
      expect(new Set(ids).size).to.equal(3);
      const received = await rawMessages(names.queueTopic(queue), 3);
      expect(received.map((message) => message.id).sort()).to.deep.equal([...ids].sort());
    });

    it('refuses attributes Pub/Sub would refuse, before sending anything', async function () {
      const queue = uniqueName('q');
      await transport.provision({ queues: [{ name: queue }] });
      const error = await transport
        .publish({ kind: 'queue', queue }, [envelope({ headers: { 'x-big': 'x'.repeat(1025) } })])
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isOmnibusError(error) && error.code).to.equal('INVALID_MESSAGE');
    });

    it('provisions idempotently, across transports too', async function () {
      const channel = uniqueName('ch');
      const topology = {
        channels: [{ name: channel, ordered: true }],
        queues: [{ name: uniqueName('q'), maxDeliveries: 7 }],
        subscriptions: [{ channel, group: uniqueName('g'), maxDeliveries: 3 }],
      };
      const policed = await withPolicy();
      await policed.provision(topology);
      await policed.provision(topology);
      await (await withPolicy()).provision(topology);
      const [queueSubscription] = await raw
        .subscription(names.queueTopic(topology.queues[0]!.name))
        .getMetadata();
      expect(queueSubscription.deadLetterPolicy?.maxDeliveryAttempts).to.equal(7);
      expect(queueSubscription.deadLetterPolicy?.deadLetterTopic).to.equal(
        `projects/${projectId}/topics/${names.queueTopic(topology.queues[0]!.name)}+dlq`,
      );
      const group = topology.subscriptions[0]!;
      const [groupSubscription] = await raw
        .subscription(names.groupSubscription(group.channel, group.group))
        .getMetadata();
      expect(groupSubscription.deadLetterPolicy?.maxDeliveryAttempts, 'raised to the minimum of 5').to.equal(
        5,
      );
      expect(groupSubscription.enableMessageOrdering).to.equal(true);
    });

    it('rejects consuming from what was never provisioned, with a typed error', async function () {
      const error = await transport
        .consume({ kind: 'queue', queue: uniqueName('missing') }, async () => undefined, { concurrency: 1 })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isOmnibusError(error) && error.code).to.equal('NOT_PROVISIONED');
      const publishError = await transport
        .publish({ kind: 'queue', queue: uniqueName('missing') }, [envelope()])
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isOmnibusError(publishError) && publishError.code).to.equal('NOT_PROVISIONED');
    });

    it('keeps per-key order with 16 concurrent handlers, one delivery per key at a time', async function () {
      const queue = uniqueName('q');
      await transport.provision({ queues: [{ name: queue, ordered: true }] });
      const keys = Array.from({ length: 8 }, (_, i) => `key-${i}`);
      const seen = new Map<string, number[]>();
      const busy = new Set<string>();
      let overlaps = 0;
      let concurrent = 0;
      let maxConcurrent = 0;
      await consume(
        { kind: 'queue', queue },
        async (d) => {
          const key = d.envelope.key!;
          if (busy.has(key)) overlaps++;
          busy.add(key);
          maxConcurrent = Math.max(maxConcurrent, ++concurrent);
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
          seen.set(key, [...(seen.get(key) ?? []), Number(d.envelope.headers.seq)]);
          busy.delete(key);
          concurrent--;
          await d.ack();
        },
        16,
      );
      const sent: Envelope[] = [];
      for (let seq = 0; seq < 25; seq++) {
        for (const key of keys) sent.push(envelope({ key, headers: { seq: String(seq) } }));
      }
      for (let i = 0; i < sent.length; i += 50) {
        await transport.publish({ kind: 'queue', queue }, sent.slice(i, i + 50));
      }
      await waitFor(() => keys.every((key) => (seen.get(key)?.length ?? 0) >= 25), {
        timeoutMs: 30_000,
        message: 'every key complete',
      });
      for (const key of keys) expect(seen.get(key), key).to.deep.equal([...Array(25).keys()]);
      expect(overlaps, 'two deliveries of one key at once').to.equal(0);
      expect(maxConcurrent, 'keys handled in parallel').to.be.greaterThan(1);
    });

    it('keeps the order of a key through a delayed retry', async function () {
      const queue = uniqueName('q');
      await transport.provision({ queues: [{ name: queue, ordered: true }] });
      const order: string[] = [];
      await consume(
        { kind: 'queue', queue },
        async (d) => {
          const seq = d.envelope.headers.seq!;
          if (seq === '0' && d.attempt === 1) return d.retry(300);
          order.push(`${seq}@${d.attempt}`);
          await d.ack();
        },
        8,
      );
      await transport.publish(
        { kind: 'queue', queue },
        ['0', '1', '2'].map((seq) => envelope({ key: 'k', headers: { seq } })),
      );
      await waitFor(() => order.length >= 3, { message: 'three handled' });
      expect(order[0]).to.equal('0@2');
      expect(order.slice(1).map((entry) => entry.split('@')[0])).to.deep.equal(['1', '2']);
    });

    it("lets the server's dead-letter policy catch what is never settled, with a reason", async function () {
      const queue = uniqueName('q');
      const policed = await withPolicy();
      await policed.provision({ queues: [{ name: queue, maxDeliveries: 5 }] });
      const source = { kind: 'queue', queue } as const;
      const attempts: number[] = [];
      await consume(
        source,
        async (d) => {
          attempts.push(d.attempt);
          await d.retry(0); // never acked: the server gives up after 5 deliveries
        },
        4,
        policed,
      );
      const sent = envelope();
      await policed.publish(source, [sent]);
      const dead: Delivery[] = [];
      await consume({ kind: 'deadLetters', of: source }, async (d) => {
        dead.push(d);
        await d.ack();
      });
      await waitFor(() => dead.length === 1, { timeoutMs: 20_000, message: 'the dead letter' });
      expect(attempts).to.deep.equal([1, 2, 3, 4, 5]);
      expect(dead[0]!.envelope.id).to.equal(sent.id);
      const failure = readFailure(dead[0]!.envelope);
      expect(failure?.code).to.equal(MAX_DELIVERIES_EXCEEDED);
      expect(failure?.source).to.deep.equal(source);
    });

    it('counts attempts per subscriber group (pstest counts all groups together)', async function () {
      const channel = uniqueName('ch');
      const groups = [uniqueName('a'), uniqueName('b'), uniqueName('c')];
      await transport.provision({
        channels: [{ name: channel }],
        subscriptions: groups.map((group) => ({ channel, group })),
      });
      const attempts = new Map<string, number[]>();
      for (const group of groups) {
        await consume({ kind: 'subscription', channel, group }, async (d) => {
          attempts.set(group, [...(attempts.get(group) ?? []), d.attempt]);
          await (d.attempt < 2 ? d.retry(0) : d.ack());
        });
      }
      await transport.publish({ kind: 'channel', channel }, [envelope()]);
      await waitFor(() => groups.every((group) => attempts.get(group)?.length === 2), {
        message: 'two deliveries in each group',
      });
      for (const group of groups) expect(attempts.get(group), group).to.deep.equal([1, 2]);
    });

    it('counts attempts itself without a dead-letter policy (the default on an emulator)', async function () {
      expect(transport.capabilities.nativeDeadLetter).to.equal(false);
      const queue = uniqueName('q');
      await transport.provision({ queues: [{ name: queue }] });
      const [metadata] = await raw.subscription(names.queueTopic(queue)).getMetadata();
      expect(metadata.deadLetterPolicy ?? null).to.equal(null);
      const attempts: number[] = [];
      await consume(
        { kind: 'queue', queue },
        async (d) => {
          attempts.push(d.attempt);
          await (d.attempt < 4 ? d.retry(0) : d.ack());
        },
        2,
      );
      await transport.publish({ kind: 'queue', queue }, [envelope()]);
      await waitFor(() => attempts.length === 4, { message: 'four deliveries' });
      expect(attempts).to.deep.equal([1, 2, 3, 4]);
    });

    it('resumes an ordering key after a failed ordered publish', async function () {
      const channel = uniqueName('ch');
      await transport.provision({ channels: [{ name: channel, ordered: true }] });
      const topic = raw.topic(names.channelTopic(channel));
      await topic.delete();
      const error = await transport.publish({ kind: 'channel', channel }, [envelope({ key: 'k' })]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isOmnibusError(error) && error.code).to.equal('NOT_PROVISIONED');
      await topic.create();
      await topic.createSubscription(`${names.channelTopic(channel)}~late`, { enableMessageOrdering: true });
      await transport.publish({ kind: 'channel', channel }, [envelope({ key: 'k' })]);
      const [message] = await rawMessages(`${names.channelTopic(channel)}~late`, 1);
      expect(message!.orderingKey).to.equal('k');
    });

    describe('a foreign publisher through a real bus', function () {
      interface Known {
        readonly n: number;
      }
      it('dead-letters garbage and attribute-less messages with the reason, acks unknown types', async function () {
        const channel = uniqueName('ch');
        const group = uniqueName('g');
        const Known = defineEvent<Known>({ type: 'test.Known', channel });
        const handled: number[] = [];
        @Subscriber({ group })
        class KnownHandlers {
          @Handle(Known)
          async on(event: Known, _ctx: MessageContext): Promise<void> {
            handled.push(event.n);
          }
        }
        const bus = new Bus({
          transport,
          serviceName: 'foreign-test',
          handlers: [KnownHandlers],
          retry: { attempts: 2, backoff: constant(0) },
          closeTransport: false,
        });
        await bus.start();
        try {
          const topic = raw.topic(names.channelTopic(channel));
          await topic.publishMessage({ data: Buffer.from([0xff, 0x00, 0xfe, 0x13]) }); // no attributes at all
          await topic.publishMessage({
            data: Buffer.from('{not json'),
            attributes: { 'ce-id': 'garbage-1', 'ce-type': 'test.Known', 'content-type': 'application/json' },
          });
          await topic.publishMessage({
            data: Buffer.from('{"n":2}'),
            attributes: {
              'ce-id': 'unknown-1',
              'ce-type': 'test.Unknown',
              'content-type': 'application/json',
            },
          });
          await topic.publishMessage({
            data: Buffer.from('{"n":1}'),
            attributes: { 'ce-id': 'known-1', 'ce-type': 'test.Known', 'content-type': 'application/json' },
          });
          const dead: Envelope[] = [];
          await consume({ kind: 'deadLetters', of: { kind: 'subscription', channel, group } }, async (d) => {
            dead.push(d.envelope);
            await d.ack();
          });
          await waitFor(() => dead.length >= 2 && handled.length >= 1 && bus.stats.unknownType >= 1, {
            timeoutMs: 15_000,
            message: 'two dead letters, one handled, one unknown',
          });
          expect(handled).to.deep.equal([1]);
          expect(bus.stats.unknownType).to.equal(1);
          const reasons = dead.map((e) => readFailure(e)).sort((a, b) => a!.code.localeCompare(b!.code));
          expect(reasons.map((r) => r?.code)).to.deep.equal(['MALFORMED_BODY', 'MISSING_HEADER']);
          expect(reasons[1]?.message).to.equal('message has no type');
          const garbage = dead.find((e) => e.id === '')!;
          expect([...garbage.body]).to.deep.equal([0xff, 0x00, 0xfe, 0x13]);
          expect(bus.stats.deadLettered).to.equal(2);
        } finally {
          await bus.stop();
        }
      });
    });

    it('survives a pstest restart: publisher and subscriber reconnect, a lost subscription is reopened', async function () {
      this.timeout(180_000);
      const queue = uniqueName('q');
      const lost = uniqueName('q');
      await transport.provision({ queues: [{ name: queue }, { name: lost }] });
      const received = new Set<string>();
      const sink = async (d: Delivery) => {
        received.add(d.envelope.id);
        await d.ack();
      };
      await consume({ kind: 'queue', queue }, sink);
      await consume({ kind: 'queue', queue: lost }, sink);
      const before = [envelope(), envelope()];
      await transport.publish({ kind: 'queue', queue }, [before[0]!]);
      await transport.publish({ kind: 'queue', queue: lost }, [before[1]!]);
      await waitFor(() => before.every((e) => received.has(e.id)), {
        message: 'the messages before the restart',
      });
      // The restart drops this subscription (the lab saves only what exists), so the consumer's streams
      // come back to NOT_FOUND: the client library gives up and closes, and the consumer reopens with backoff.
      await raw.subscription(names.queueTopic(lost)).delete();
      await promisify(execFile)(new URL('../../../../scripts/brokers', import.meta.url).pathname, [
        'restart',
        'pubsub',
      ]);
      const after = envelope();
      // The application's rule: a publish that was not confirmed is published again.
      await waitFor(
        () =>
          transport.publish({ kind: 'queue', queue }, [after]).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 60_000, intervalMs: 250, message: 'publishing to work again' },
      );
      await waitFor(() => received.has(after.id), {
        timeoutMs: 60_000,
        message: 'the message after the restart',
      });
      await waitFor(async () => (await transport.health()).status === 'degraded', {
        timeoutMs: 60_000,
        intervalMs: 100,
        message: 'the consumer of the lost subscription to be reconnecting',
      });
      await raw.topic(names.queueTopic(lost)).createSubscription(names.queueTopic(lost));
      const found = envelope();
      await transport.publish({ kind: 'queue', queue: lost }, [found]);
      await waitFor(() => received.has(found.id), {
        timeoutMs: 60_000,
        message: 'the message on the subscription created again',
      });
      expect((await transport.health()).status).to.equal('up');
    });
  });
});
