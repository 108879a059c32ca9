import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ChannelModel, GetMessage } from 'amqplib';
import { connect } from 'amqplib';
import type { Envelope, MessageContext, Source } from '@omnibus/core';
import {
  Bus,
  Handle,
  Header,
  Subscriber,
  defineEvent,
  isOmnibusError,
  readFailure,
  uuidv7,
} from '@omnibus/core';
import type { Delivery } from '@omnibus/core/transport';
import {
  SECURITY_CONFORMANCE_SIGNING,
  describeIntegration,
  runRequestReplyConformance,
  runTransportConformance,
  uniqueName,
  waitFor,
} from '@omnibus/core/testing';
import type { RabbitMqTransportOptions } from '../src/index.js';
import { RabbitMqTransport } from '../src/index.js';
import { BrokerCleanup } from './broker-cleanup.js';

const url = process.env.OMNIBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const brokersScript = fileURLToPath(new URL('../../../../scripts/brokers', import.meta.url));
const run = promisify(execFile);

async function probe(): Promise<void> {
  const connection = await connect(url, { timeout: 3_000 });
  await connection.close();
}

describeIntegration('rabbitmq', probe, () => {
  const cleanup = new BrokerCleanup(url);
  after(async function () {
    this.timeout(120_000);
    await cleanup.run();
  });

  async function createTransport(options: RabbitMqTransportOptions = {}): Promise<RabbitMqTransport> {
    const transport = new RabbitMqTransport({ url, ...options });
    await transport.connect();
    return transport;
  }

  runTransportConformance('rabbitmq', {
    createTransport: async () => cleanup.track(await createTransport()),
    createUnconnectedTransport: () => cleanup.track(new RabbitMqTransport({ url })),
    createSigningTransport: async () =>
      cleanup.track(await createTransport({ signing: SECURITY_CONFORMANCE_SIGNING })),
    restartBroker: async () => {
      try {
        await run(brokersScript, ['restart', 'rabbitmq'], { timeout: 240_000 });
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: string; stderr?: string };
        throw new Error(`scripts/brokers restart rabbitmq failed:\n${stdout ?? ''}${stderr ?? ''}`, {
          cause: error,
        });
      }
    },
    reconnectMessages: 10_000,
  });

  runRequestReplyConformance('rabbitmq', {
    createTransport: async () => cleanup.track(await createTransport()),
    // A request's queue is checked (passively declared) before publishing: NOT_PROVISIONED.
    failsFastWithoutResponder: true,
  });

  describe('rabbitmq transport specifics', function () {
    this.timeout(60_000);
    let transport: RabbitMqTransport;
    let raw: ChannelModel;
    const closeAfter: { close(): Promise<unknown> }[] = [];

    beforeEach(async function () {
      transport = await createTransport();
      raw = await connect(url);
      raw.on('error', () => undefined);
    });

    afterEach(async function () {
      for (const closable of closeAfter.splice(0).reverse()) await closable.close().catch(() => undefined);
      await transport.close();
      await raw.close().catch(() => undefined);
    });

    async function commandQueue(options: { ordered?: boolean } = {}): Promise<string> {
      const name = uniqueName('rq');
      const topology = { queues: [{ name, ...options }] };
      cleanup.record(topology);
      await transport.provision(topology);
      return name;
    }

    function envelope(overrides: Partial<Envelope> = {}): Envelope {
      const id = uuidv7();
      return {
        id,
        type: 'rabbitmq.Test',
        headers: {
          [Header.specVersion]: '1.0',
          [Header.contentType]: 'application/json',
          [Header.source]: 'rabbitmq-test',
          tenant: 'acme',
          'x-trace-note': 'kept as is',
        },
        body: Buffer.from(JSON.stringify({ id })),
        ...overrides,
      };
    }

    /** Reads one message with a foreign (plain amqplib) client. */
    async function getRaw(queue: string): Promise<GetMessage> {
      const channel = await raw.createChannel();
      let message: GetMessage | false = false;
      await waitFor(async () => (message = await channel.get(queue, { noAck: true })) !== false, {
        timeoutMs: 10_000,
        message: `a message in ${queue}`,
      });
      await channel.close();
      return message as unknown as GetMessage;
    }

    it('writes the CloudEvents AMQP binding that a foreign amqplib client reads', async function () {
      const queue = await commandQueue();
      const sent = envelope({ key: 'order-7' });
      await transport.publish({ kind: 'queue', queue }, [sent]);
      const message = await getRaw(queue);
      const headers = message.properties.headers!;
      expect(message.properties.messageId).to.equal(sent.id);
      expect(message.properties.contentType).to.equal('application/json');
      expect(message.properties.deliveryMode).to.equal(2);
      expect(headers['cloudEvents_id']).to.equal(sent.id);
      expect(headers['cloudEvents_type']).to.equal('rabbitmq.Test');
      expect(headers['cloudEvents_specversion']).to.equal('1.0');
      expect(headers['cloudEvents_source']).to.equal('rabbitmq-test');
      expect(headers['cloudEvents_tenant']).to.equal('acme');
      expect(headers['cloudEvents_partitionkey']).to.equal('order-7');
      expect(headers['x-trace-note']).to.equal('kept as is');
      expect(headers).not.to.have.property('cloudEvents_datacontenttype');
      expect(JSON.parse(message.content.toString())).to.deep.equal({ id: sent.id });
    });

    it("reads a foreign client's message: cloudEvents: headers, AMQP properties, typed header values", async function () {
      const queue = await commandQueue();
      const received: Delivery[] = [];
      closeAfter.push(
        await transport.consume(
          { kind: 'queue', queue },
          async (d) => {
            received.push(d);
            await d.ack();
          },
          { concurrency: 1 },
        ),
      );
      const channel = await raw.createConfirmChannel();
      channel.sendToQueue(queue, Buffer.from('{"a":1}'), {
        contentType: 'application/json',
        messageId: 'foreign-1',
        type: 'foreign.Type',
        persistent: true,
        headers: { 'cloudEvents:source': 'java-app', 'cloudEvents:subject': 's-1', retries: 3, urgent: true },
      });
      await channel.waitForConfirms();
      await channel.close();
      await waitFor(() => received.length === 1, { message: 'the foreign message' });
      const got = received[0]!;
      expect(got.envelope.id).to.equal('foreign-1');
      expect(got.envelope.type).to.equal('foreign.Type');
      expect(got.attempt).to.equal(1);
      expect(got.envelope.headers).to.deep.include({
        [Header.contentType]: 'application/json',
        [Header.source]: 'java-app',
        [Header.subject]: 's-1',
        retries: '3',
        urgent: 'true',
      });
    });

    it('puts garbage, a missing content type, a missing type and an unknown type through the bus rules', async function () {
      const channel = uniqueName('foreign');
      const group = uniqueName('g');
      const Thing = defineEvent<{ n: number }>({ type: 'rabbitmq.Thing', channel });
      const handled: number[] = [];

      @Subscriber({ group })
      class ThingHandlers {
        @Handle(Thing)
        async onThing(thing: { n: number }, _ctx: MessageContext): Promise<void> {
          handled.push(thing.n);
        }
      }

      const bus = new Bus({
        transport,
        serviceName: 'rabbitmq-test',
        handlers: [ThingHandlers],
        closeTransport: false,
      });
      cleanup.record({ subscriptions: [{ channel, group }] });
      await bus.start();
      closeAfter.push({ close: () => bus.stop() });

      const queue = `${channel}/${group}`;
      const foreign = await raw.createConfirmChannel();
      const json = 'application/json';
      // To the exchange, routed by type like ours: undecodable bytes.
      foreign.publish(channel, 'rabbitmq.Thing', Buffer.from([0xff, 0x00, 0x7b, 0x22]), {
        contentType: json,
        headers: { cloudEvents_id: 'garbage-1', cloudEvents_type: 'rabbitmq.Thing' },
      });
      // No content type at all.
      foreign.publish(channel, 'rabbitmq.Thing', Buffer.from('{"n":2}'), {
        headers: { cloudEvents_id: 'no-content-type-1', cloudEvents_type: 'rabbitmq.Thing' },
      });
      // Straight into the group's queue: no type, then a type nobody here handles.
      foreign.sendToQueue(queue, Buffer.from('{"n":3}'), { contentType: json, messageId: 'no-type-1' });
      foreign.sendToQueue(queue, Buffer.from('{"n":4}'), {
        contentType: json,
        headers: { cloudEvents_id: 'unknown-1', cloudEvents_type: 'rabbitmq.SomethingElse' },
      });
      await foreign.waitForConfirms();
      await foreign.close();
      await bus.publish(Thing, { n: 5 });

      await waitFor(() => handled.includes(5), { message: 'the good message after the bad ones' });
      await waitFor(() => bus.stats.deadLettered === 3 && bus.stats.unknownType === 1, {
        message: `3 dead letters and 1 unknown type (stats ${JSON.stringify(bus.stats)})`,
      });
      expect(handled).to.deep.equal([5]);

      const source: Source = { kind: 'subscription', channel, group };
      const reasons = new Map<string, string>();
      const dlq = await transport.consume(
        { kind: 'deadLetters', of: source },
        async (d) => {
          reasons.set(d.envelope.id, readFailure(d.envelope)?.code ?? 'none');
          await d.ack();
        },
        { concurrency: 4 },
      );
      closeAfter.push(dlq);
      await waitFor(() => reasons.size === 3, { message: 'three dead letters' });
      expect(Object.fromEntries(reasons)).to.deep.equal({
        'garbage-1': 'MALFORMED_BODY',
        'no-content-type-1': 'MISSING_CONTENT_TYPE',
        'no-type-1': 'MISSING_HEADER',
      });
      expect((await transport.health()).status).to.equal('up');
    });

    it('dead-letters a foreign message with exactly its own attributes plus omnibus-error-*, and handles structured mode', async function () {
      const channel = uniqueName('foreign');
      const group = uniqueName('g');
      const Thing = defineEvent<{ n: number }>({ type: 'rabbitmq.Thing', channel });
      const handled: number[] = [];

      @Subscriber({ group })
      class ThingHandlers {
        @Handle(Thing)
        async onThing(thing: { n: number }, _ctx: MessageContext): Promise<void> {
          handled.push(thing.n);
        }
      }

      const bus = new Bus({
        transport,
        serviceName: 'rabbitmq-test',
        handlers: [ThingHandlers],
        closeTransport: false,
      });
      cleanup.record({ subscriptions: [{ channel, group }] });
      await bus.start();
      closeAfter.push({ close: () => bus.stop() });

      const queue = `${channel}/${group}`;
      const foreign = await raw.createConfirmChannel();
      // Structured mode (#15.2): the whole event in the body, routed by its type like ours.
      const event = {
        specversion: '1.0',
        id: 'structured-1',
        type: 'rabbitmq.Thing',
        source: 'foreign',
        data: { n: 7 },
      };
      foreign.publish(channel, 'rabbitmq.Thing', Buffer.from(JSON.stringify(event)), {
        contentType: 'application/cloudevents+json',
      });
      // No id, no type, one custom header (#15.1).
      foreign.sendToQueue(queue, Buffer.from('{"n":3}'), {
        contentType: 'application/json',
        headers: { 'x-foreign': 'v' },
      });
      await foreign.waitForConfirms();
      await foreign.close();

      await waitFor(() => handled.includes(7), { message: 'the structured-mode event handled' });
      const dead = await getRaw(`${queue}.dlq`);
      const headers = dead.properties.headers ?? {};
      const errorHeaders = Object.keys(headers).filter((name) => name.startsWith('omnibus-error-'));
      expect(errorHeaders).to.include.members(['omnibus-error-message', 'omnibus-error-code']);
      // x-delivery-count is the quorum queue's own, added to this delivery by the broker.
      const others = Object.keys(headers).filter(
        (name) => !name.startsWith('omnibus-error-') && name !== 'x-delivery-count',
      );
      expect(others).to.deep.equal(['x-foreign']);
      expect(headers['x-foreign']).to.equal('v');
      expect(dead.properties.messageId).to.equal(undefined);
      expect(dead.properties.contentType).to.equal('application/json');
      expect(dead.content.toString()).to.equal('{"n":3}');
    });

    it('connects on first use: a transport of its own reads a dead-letter queue without connect() (#15.5)', async function () {
      const queue = await commandQueue();
      const source: Source = { kind: 'queue', queue };
      const consumer = await transport.consume(
        source,
        (d) => d.deadLetter({ message: 'no', code: 'TEST', attempts: 1, failedAt: new Date() }),
        {
          concurrency: 1,
        },
      );
      closeAfter.push(consumer);
      await transport.publish({ kind: 'queue', queue }, [envelope()]);
      const reader = new RabbitMqTransport({ url });
      closeAfter.push(reader);
      const got: Envelope[] = [];
      closeAfter.push(
        await reader.consume(
          { kind: 'deadLetters', of: source },
          async (d) => (got.push(d.envelope), d.ack()),
          { concurrency: 1 },
        ),
      );
      await waitFor(() => got.length === 1, {
        message: 'the dead letter, read by a never-connected transport',
      });
      expect(readFailure(got[0]!)?.code).to.equal('TEST');
    });

    it('provisions idempotently and refuses incompatible arguments with a typed error, channels intact', async function () {
      const queue = await commandQueue();
      await transport.provision({ queues: [{ name: queue }] });
      const received = new Set<string>();
      closeAfter.push(
        await transport.consume(
          { kind: 'queue', queue },
          async (d) => {
            received.add(d.envelope.id);
            await d.ack();
          },
          { concurrency: 2 },
        ),
      );
      const error = await transport.provision({ queues: [{ name: queue, ordered: true }] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isOmnibusError(error) && error.code).to.equal('INCOMPATIBLE_TOPOLOGY');
      expect(isOmnibusError(error) && error.retriable).to.equal(false);
      const sent = envelope();
      await transport.publish({ kind: 'queue', queue }, [sent]);
      await waitFor(() => received.has(sent.id), {
        message: 'publish and consume to go on after the refusal',
      });
    });

    it('fails a publish to nowhere with a typed error and keeps publishing', async function () {
      const missing = await transport
        .publish({ kind: 'queue', queue: uniqueName('missing') }, [envelope()])
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isOmnibusError(missing) && missing.code).to.equal('NOT_PROVISIONED');
      const channel = uniqueName('nobody');
      cleanup.record({ channels: [{ name: channel }] });
      await transport.provision({ channels: [{ name: channel }] });
      const unroutable = await transport.publish({ kind: 'channel', channel }, [envelope()]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isOmnibusError(unroutable) && unroutable.code).to.equal('UNROUTABLE');
      const queue = await commandQueue();
      await transport.publish({ kind: 'queue', queue }, [envelope()]);
    });

    it('lets RabbitMQ dead-letter a message whose consumers keep dying, with the reason', async function () {
      const limited = await createTransport({ deliveryLimit: 2 });
      closeAfter.push(limited);
      const queue = uniqueName('crash');
      cleanup.record({ queues: [{ name: queue }] });
      await limited.provision({ queues: [{ name: queue }] });
      const sent = envelope();
      await limited.publish({ kind: 'queue', queue }, [sent]);
      const source: Source = { kind: 'queue', queue };
      const dead: Envelope[] = [];
      closeAfter.push(
        await limited.consume(
          { kind: 'deadLetters', of: source },
          async (d) => {
            dead.push(d.envelope);
            await d.ack();
          },
          { concurrency: 1 },
        ),
      );
      const attempts: number[] = [];
      for (let round = 0; round < 5 && dead.length === 0; round++) {
        const before = attempts.length;
        const consumer = await limited.consume(source, async (d) => void attempts.push(d.attempt), {
          concurrency: 1,
        });
        await waitFor(() => attempts.length > before || dead.length > 0, {
          message: 'a delivery or the dead letter',
        });
        await consumer.close(); // "crashes": the delivery goes back unsettled
      }
      await waitFor(() => dead.length === 1, { message: 'the broker to dead-letter it' });
      expect(attempts.slice(0, 3)).to.deep.equal([1, 2, 3]);
      expect(dead[0]!.id).to.equal(sent.id);
      const failure = readFailure(dead[0]!);
      expect(failure?.code).to.equal('BROKER_DEAD_LETTER');
      expect(failure?.source).to.deep.equal(source);
    });

    it('gives an ordered queue a single active consumer', async function () {
      const queue = await commandQueue({ ordered: true });
      const byConsumer = [new Set<string>(), new Set<string>()];
      const consumers = await Promise.all(
        byConsumer.map((ids) =>
          transport.consume(
            { kind: 'queue', queue },
            async (d) => {
              ids.add(d.envelope.id);
              await d.ack();
            },
            { concurrency: 4 },
          ),
        ),
      );
      closeAfter.push(...consumers);
      const first = Array.from({ length: 20 }, () => envelope());
      await transport.publish({ kind: 'queue', queue }, first);
      await waitFor(() => byConsumer[0]!.size + byConsumer[1]!.size === 20, { message: 'all 20' });
      const active = byConsumer[0]!.size === 20 ? 0 : 1;
      expect(byConsumer[active]!.size, 'one consumer got everything').to.equal(20);
      await consumers[active]!.close();
      const second = Array.from({ length: 5 }, () => envelope());
      await transport.publish({ kind: 'queue', queue }, second);
      await waitFor(() => second.every((e) => byConsumer[1 - active]!.has(e.id)), {
        message: 'the standby to take over',
      });
    });

    it('acks out-of-order settlements in batches without ever double-acking', async function () {
      const queue = await commandQueue();
      const attempts = new Map<string, number>();
      const consumer = await transport.consume(
        { kind: 'queue', queue },
        async (d) => {
          attempts.set(d.envelope.id, (attempts.get(d.envelope.id) ?? 0) + 1);
          // Settle in a scrambled order: some at once, some a few turns of the event loop later.
          for (let turns = d.envelope.id.charCodeAt(d.envelope.id.length - 1) % 4; turns > 0; turns--) {
            await new Promise((resolve) => setImmediate(resolve));
          }
          await d.ack();
          await d.ack();
        },
        { concurrency: 16 },
      );
      const sent = Array.from({ length: 500 }, () => envelope());
      for (let i = 0; i < sent.length; i += 50)
        await transport.publish({ kind: 'queue', queue }, sent.slice(i, i + 50));
      await waitFor(() => attempts.size === 500, { message: 'all 500' });
      await consumer.close();
      const check = await raw.createChannel();
      const { messageCount } = await check.checkQueue(queue);
      await check.close();
      expect(messageCount, 'nothing left unacked').to.equal(0);
      expect(
        [...attempts.values()].every((n) => n === 1),
        'no redelivery: the channel never closed',
      ).to.equal(true);
    });

    it('reports a consumer whose queue was deleted as degraded health, without crashing', async function () {
      const queue = await commandQueue();
      closeAfter.push(
        await transport.consume({ kind: 'queue', queue }, async (d) => d.ack(), { concurrency: 1 }),
      );
      const admin = await raw.createChannel();
      await admin.deleteQueue(queue);
      await admin.close();
      await waitFor(async () => (await transport.health()).status === 'degraded', {
        message: 'health to report the detached consumer',
      });
      expect((await transport.health()).details).to.deep.include({ detachedConsumers: [queue] });
      const other = await commandQueue();
      await transport.publish({ kind: 'queue', queue: other }, [envelope()]);
    });

    it('reports health from the connection', async function () {
      expect((await transport.health()).status).to.equal('up');
      const idle = new RabbitMqTransport({ url });
      expect((await idle.health()).status).to.equal('down');
      await transport.close();
      expect((await transport.health()).status).to.equal('down');
    });
  });
});
