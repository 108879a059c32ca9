import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ListSubscriptionsByTopicCommand, SetSubscriptionAttributesCommand } from '@aws-sdk/client-sns';
import type { Message } from '@aws-sdk/client-sqs';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Envelope, MessageContext } from '@omnibus/core';
import {
  Bus,
  Handle,
  Header,
  Subscriber,
  defineCommand,
  defineEvent,
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
import type { SqsSnsTransport } from '../src/index.js';
import { decodeMessage, MAX_ATTRIBUTES, PACKED_ATTRIBUTE } from '../src/aws-codec.js';
import {
  connectedTransport,
  unconnectedTransport,
  deleteTestResources,
  probe,
  rawSns,
  rawSqs,
  restartMoto,
  testPrefix,
} from './aws-fixtures.js';

describeIntegration('aws', probe, () => {
  after(async function () {
    this.timeout(120_000);
    await deleteTestResources();
  });

  // moto keeps its state in memory; `scripts/brokers restart aws` pickles it (messages in flight,
  // receipts and receive counts included) across the restart, so the reconnect test runs on moto.
  // 500 messages: on a busy 2-core machine moto handles a few dozen a second.
  runTransportConformance('aws standard', {
    createTransport: () => connectedTransport(),
    createUnconnectedTransport: () => unconnectedTransport(),
    restartBroker: restartMoto,
    reconnectMessages: 500,
  });
  runTransportConformance('aws fifo', {
    createTransport: () => connectedTransport({ fifo: true }),
    createUnconnectedTransport: () => unconnectedTransport({ fifo: true }),
    restartBroker: restartMoto,
    reconnectMessages: 500,
  });
  runRequestReplyConformance('aws', {
    createTransport: () => connectedTransport(),
    // A request's queue is looked up before the first publish to it: NOT_PROVISIONED.
    failsFastWithoutResponder: true,
  });

  describe('aws transport specifics', function () {
    this.timeout(90_000);
    let transport: SqsSnsTransport;
    const closeAfter: { close(): Promise<unknown> }[] = [];
    const sqs = rawSqs();
    const sns = rawSns();

    beforeEach(async function () {
      transport = await connectedTransport();
    });

    afterEach(async function () {
      for (const closable of closeAfter.splice(0).reverse()) await closable.close().catch(() => undefined);
      await transport.close();
    });

    after(function () {
      sqs.destroy();
      sns.destroy();
    });

    function envelope(overrides: Partial<Envelope> = {}): Envelope {
      const id = uuidv7();
      return {
        id,
        type: 'aws.Test',
        headers: { [Header.specVersion]: '1.0', [Header.contentType]: 'application/json' },
        body: Buffer.from(JSON.stringify({ id })),
        ...overrides,
      };
    }

    async function commandQueue(
      options: { ordered?: boolean; maxDeliveries?: number } = {},
    ): Promise<string> {
      const queue = uniqueName('q');
      await transport.provision({ queues: [{ name: queue, ...options }] });
      return queue;
    }

    async function consume(
      source: Parameters<SqsSnsTransport['consume']>[0],
      sink: (d: Delivery) => Promise<void>,
      concurrency = 4,
      on: SqsSnsTransport = transport,
    ): Promise<Consumer> {
      const consumer = await on.consume(source, sink, { concurrency });
      closeAfter.push(consumer);
      return consumer;
    }

    /** A group queue's ARN, and the topic its policy lets send to it. */
    async function subscriptionOf(queueUrl: string): Promise<{ queueArn: string; topicArn: string }> {
      const { Attributes: attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn', 'Policy'] }),
      );
      const policy = JSON.parse(attributes!.Policy!) as {
        Statement: { Condition: { ArnEquals: Record<string, string> } }[];
      };
      return {
        queueArn: attributes!.QueueArn!,
        topicArn: policy.Statement[0]!.Condition.ArnEquals['aws:SourceArn']!,
      };
    }

    async function receiveRaw(queueUrl: string): Promise<Message> {
      let message: Message | undefined;
      await waitFor(
        async () => {
          const result = await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: queueUrl,
              MaxNumberOfMessages: 1,
              WaitTimeSeconds: 1,
              MessageAttributeNames: ['All'],
            }),
          );
          message = result.Messages?.[0];
          return message !== undefined;
        },
        { timeoutMs: 10_000, message: 'a raw message' },
      );
      return message!;
    }

    it('writes at most 10 message attributes a foreign SQS client can read, packing the rest', async function () {
      const queue = await commandQueue();
      const sent = envelope({
        key: 'order-7',
        headers: {
          [Header.specVersion]: '1.0',
          [Header.contentType]: 'application/json',
          [Header.source]: 'aws-test',
          [Header.time]: new Date().toISOString(),
          [Header.subject]: 'order-7',
          [Header.correlationId]: uuidv7(),
          [Header.causationId]: uuidv7(),
          [Header.traceParent]: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
          [Header.traceState]: 'congo=t61rcWkgMzE',
          tenant: 'acme',
          'x-empty': '',
          'name with spaces': 'kept',
        },
      });
      await transport.publish({ kind: 'queue', queue }, [sent]);
      const { url } = await transport.queueOf({ kind: 'queue', queue });
      const message = await receiveRaw(url);
      const attributes = message.MessageAttributes!;
      expect(Object.keys(attributes).length).to.be.at.most(MAX_ATTRIBUTES);
      expect(attributes['ce-id']?.StringValue).to.equal(sent.id);
      expect(attributes['ce-type']?.StringValue).to.equal('aws.Test');
      expect(attributes['ce-source']?.StringValue).to.equal('aws-test');
      expect(attributes['content-type']?.StringValue).to.equal('application/json');
      // The key comes before every custom header in the priority list (#15.4): its own attribute.
      expect(attributes['omnibus-key']?.StringValue).to.equal('order-7');
      const packed = JSON.parse(attributes[PACKED_ATTRIBUTE]!.StringValue!) as Record<string, string>;
      expect(packed).to.include({ 'x-empty': '', 'name with spaces': 'kept', 'ce-tenant': 'acme' });
      expect(packed).to.not.have.property('omnibus-key');
      expect(JSON.parse(message.Body!)).to.deep.equal({ id: sent.id });
      const decoded = decodeMessage({ body: message.Body, attributes });
      expect(decoded).to.deep.equal({ ...sent, body: decoded.body });
      expect(Buffer.from(decoded.body).equals(Buffer.from(sent.body))).to.equal(true);
    });

    it('carries binary and empty bodies unchanged', async function () {
      const queue = await commandQueue();
      const received = new Map<string, Envelope>();
      await consume({ kind: 'queue', queue }, async (d) => {
        received.set(d.envelope.id, d.envelope);
        await d.ack();
      });
      const binary = envelope({ body: Buffer.from([0x00, 0xff, 0xfe, 0x7b, 0x01, 0x80]) });
      const empty = envelope({ body: new Uint8Array(0) });
      const bom = envelope({ body: Buffer.from('\ufeff{"bom":true}', 'utf8') });
      await transport.publish({ kind: 'queue', queue }, [binary, empty, bom]);
      await waitFor(() => received.size === 3, { message: 'three messages' });
      for (const sent of [binary, empty, bom]) {
        expect(Buffer.from(received.get(sent.id)!.body).equals(Buffer.from(sent.body)), sent.id).to.equal(
          true,
        );
      }
    });

    it('ends a message that crashes its consumer every time in the DLQ through the redrive policy, losing nothing else', async function () {
      this.timeout(180_000);
      const maxDeliveries = 3;
      // 3 s visibility here, so each crash costs 3 s, not 10: the queue's default and the children's polls.
      const crashy = await connectedTransport({ visibilityTimeoutSeconds: CRASH_VISIBILITY_SECONDS });
      closeAfter.push(crashy);
      const queue = uniqueName('q');
      await crashy.provision({ queues: [{ name: queue, maxDeliveries }] });
      const goods = Array.from({ length: 10 }, () => envelope());
      const poison = envelope({ type: 'test.Poison' });
      await transport.publish({ kind: 'queue', queue }, [...goods.slice(0, 5), poison, ...goods.slice(5)]);

      // Each crash is a real one: a child process that receives the poison and dies by SIGKILL, leaving it
      // in flight with no release; it comes back after the visibility timeout, one receive count up.
      const handled = new Set<string>();
      for (let crash = 1; crash <= maxDeliveries; crash++) {
        const { crashedOn, handledIds } = await runCrashingConsumer(queue);
        expect(crashedOn, `crash ${crash}`).to.equal(poison.id);
        for (const id of handledIds) handled.add(id);
      }

      // A healthy consumer now gets everything that is left, but never the poison: on its next receive,
      // past maxReceiveCount, SQS moved it to the dead-letter queue.
      const poisonDelivered: Delivery[] = [];
      await consume({ kind: 'queue', queue }, async (d) => {
        if (d.envelope.id === poison.id) poisonDelivered.push(d);
        else handled.add(d.envelope.id);
        await d.ack();
      });
      const dead = new Map<string, Envelope>();
      await consume({ kind: 'deadLetters', of: { kind: 'queue', queue } }, async (d) => {
        dead.set(d.envelope.id, d.envelope);
        await d.ack();
      });
      await waitFor(() => dead.has(poison.id) && goods.every((g) => handled.has(g.id)), {
        timeoutMs: 60_000,
        message: 'the poison in the DLQ and every other message handled',
      });
      expect(poisonDelivered).to.have.length(0);
      expect(dead.size).to.equal(1);
      const failure = readFailure(dead.get(poison.id)!);
      expect(failure?.code).to.equal('MAX_DELIVERIES_EXCEEDED');
      expect(failure?.attempts).to.equal(maxDeliveries);
      expect(failure?.source).to.deep.equal({ kind: 'queue', queue });
      expect(Buffer.from(dead.get(poison.id)!.body).equals(Buffer.from(poison.body))).to.equal(true);
    });

    it('keeps a slow handler’s message hidden with the visibility heartbeat', async function () {
      const slow = await connectedTransport({ visibilityTimeoutSeconds: 3 });
      closeAfter.push(slow);
      const queue = uniqueName('q');
      await slow.provision({ queues: [{ name: queue }] });
      const deliveries: string[] = [];
      let done = false;
      const sink = async (d: Delivery): Promise<void> => {
        deliveries.push(d.envelope.id);
        // Over two visibility timeouts of work, while a competing consumer polls the same queue.
        await new Promise((resolve) => setTimeout(resolve, 7_000));
        await d.ack();
        done = true;
      };
      await consume({ kind: 'queue', queue }, sink, 1, slow);
      await consume({ kind: 'queue', queue }, sink, 1, slow);
      await slow.publish({ kind: 'queue', queue }, [envelope()]);
      await waitFor(() => done, { message: 'the slow handler to finish' });
      expect(deliveries).to.have.length(1);
    });

    it('caps a retry delay at the 12 hours SQS allows', async function () {
      const queue = await commandQueue();
      let retried: Promise<void> | undefined;
      await consume({ kind: 'queue', queue }, async (d) => {
        retried = d.retry(24 * 3_600_000);
        await retried;
      });
      await transport.publish({ kind: 'queue', queue }, [envelope()]);
      await waitFor(() => retried !== undefined, { message: 'the delivery' });
      await retried;
      const { url } = await transport.queueOf({ kind: 'queue', queue });
      const { Attributes: attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
      );
      expect(attributes?.ApproximateNumberOfMessagesNotVisible).to.equal('1');
    });

    it('keeps a key’s order on a FIFO queue when one of its messages is retried', async function () {
      const queue = await commandQueue({ ordered: true });
      const seen: string[] = [];
      let retriedOnce = false;
      await consume(
        { kind: 'queue', queue },
        async (d) => {
          seen.push(d.envelope.headers.seq!);
          if (d.envelope.headers.seq === '2' && !retriedOnce) {
            retriedOnce = true;
            return d.retry(0);
          }
          await d.ack();
        },
        8,
      );
      const sent = [1, 2, 3, 4, 5].map((seq) =>
        envelope({ key: 'k', headers: { [Header.specVersion]: '1.0', seq: String(seq) } }),
      );
      await transport.publish({ kind: 'queue', queue }, sent);
      await waitFor(() => seen.length === 6, { message: 'five messages and one retry' });
      expect(seen).to.deep.equal(['1', '2', '2', '3', '4', '5']);
    });

    it('provisions idempotently, converging on changed settings, with sanitised names', async function () {
      const channel = `${uniqueName('orders')}.eu/v1`;
      const group = 'billing:main';
      const queue = `${uniqueName('payments')}.high`;
      await transport.provision({
        channels: [{ name: channel }],
        queues: [{ name: queue, maxDeliveries: 4 }],
        subscriptions: [{ channel, group }],
      });
      await transport.provision({
        channels: [{ name: channel }],
        queues: [{ name: queue, maxDeliveries: 7 }],
        subscriptions: [{ channel, group }],
      });
      const commandQueueRef = await transport.queueOf({ kind: 'queue', queue });
      expect(commandQueueRef.name).to.match(/^[A-Za-z0-9_-]{1,80}$/);
      expect(commandQueueRef.name.startsWith(testPrefix)).to.equal(true);
      const { Attributes: attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: commandQueueRef.url, AttributeNames: ['RedrivePolicy'] }),
      );
      expect(
        (JSON.parse(attributes!.RedrivePolicy!) as { maxReceiveCount: number }).maxReceiveCount,
      ).to.equal(7);

      const groupQueue = await transport.queueOf({ kind: 'subscription', channel, group });
      const { queueArn, topicArn } = await subscriptionOf(groupQueue.url);
      const { Subscriptions: subscriptions } = await sns.send(
        new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }),
      );
      expect(subscriptions?.filter((s) => s.Endpoint === queueArn)).to.have.length(1);

      const received = new Map<string, Envelope>();
      await consume({ kind: 'subscription', channel, group }, async (d) => {
        received.set(d.envelope.id, d.envelope);
        await d.ack();
      });
      const sent = envelope();
      await transport.publish({ kind: 'channel', channel }, [sent]);
      await waitFor(() => received.has(sent.id), { message: 'the event through the sanitised names' });
    });

    it('refuses names AWS cannot take, naming the field', async function () {
      const error = await transport.provision({ queues: [{ name: 'x'.repeat(80) }] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.have.property('code', 'INVALID_CONFIGURATION');
      expect(error).to.have.property('field', 'queue');
    });

    it('reports health, and down after close', async function () {
      expect((await transport.health()).status).to.equal('up');
      await transport.close();
      expect((await transport.health()).status).to.equal('down');
    });

    it('puts foreign messages through the bus rules: no attributes, garbage, an SNS envelope, structured mode', async function () {
      const queue = uniqueName('foreign');
      const Thing = defineCommand<{ n: number }>({ type: 'aws.Thing', queue });
      const handled: { n: number; ctx: MessageContext }[] = [];

      @Subscriber({ group: uniqueName('g') })
      class ThingHandlers {
        @Handle(Thing)
        async onThing(thing: { n: number }, ctx: MessageContext): Promise<void> {
          handled.push({ n: thing.n, ctx });
        }
      }

      const bus = new Bus({
        transport,
        serviceName: 'aws-test',
        handlers: [ThingHandlers],
        closeTransport: false,
      });
      await bus.start();
      closeAfter.push({ close: () => bus.stop() });
      const { url } = await transport.queueOf({ kind: 'queue', queue });
      const send = (body: string, attributes?: Record<string, string | Uint8Array>) =>
        sqs.send(
          new SendMessageCommand({
            QueueUrl: url,
            MessageBody: body,
            ...(attributes === undefined
              ? {}
              : {
                  MessageAttributes: Object.fromEntries(
                    Object.entries(attributes).map(([name, value]) => [
                      name,
                      typeof value === 'string'
                        ? { DataType: 'String', StringValue: value }
                        : { DataType: 'Binary', BinaryValue: value },
                    ]),
                  ),
                }),
          }),
        );
      const json = 'application/json';

      // 1. No attributes at all, and a body that is nothing: no type → dead-lettered with the reason.
      await send('garbage {{{ \u00e9');
      // 2. Our attributes, a body that is not JSON → undecodable → dead-lettered with the reason.
      await send('not json', { 'ce-id': 'bad-json-1', 'ce-type': 'aws.Thing', 'content-type': json });
      // 3. An SNS JSON envelope (a subscription without raw delivery), attributes inside it.
      await send(
        JSON.stringify({
          Type: 'Notification',
          MessageId: 'sns-1',
          TopicArn: 'arn:aws:sns:us-east-1:123456789012:foreign',
          Message: JSON.stringify({ n: 3 }),
          MessageAttributes: {
            'ce-id': { Type: 'String', Value: 'sns-envelope-1' },
            'ce-type': { Type: 'String', Value: 'aws.Thing' },
            'content-type': { Type: 'String', Value: json },
            priority: { Type: 'Number', Value: '5' },
          },
        }),
      );
      // 4. A structured-mode CloudEvent, no attributes.
      await send(
        JSON.stringify({
          specversion: '1.0',
          id: 'structured-1',
          type: 'aws.Thing',
          source: 'java',
          data: { n: 4 },
        }),
      );
      // 5. The underscore spelling of a Kafka bridge, with a binary attribute.
      await send(JSON.stringify({ n: 5 }), {
        ce_id: 'underscore-1',
        ce_type: 'aws.Thing',
        'content-type': json,
        signature: Buffer.from([1, 2, 3]),
      });
      // 6. After all that, the consumer still works.
      await bus.send(Thing, { n: 6 });

      await waitFor(() => handled.length === 4, { message: 'the four readable messages' });
      expect(handled.map((h) => h.n).sort()).to.deep.equal([3, 4, 5, 6]);
      const byId = new Map(handled.map((h) => [h.ctx.messageId, h.ctx]));
      expect(byId.get('sns-envelope-1')?.headers).to.include({ priority: '5' });
      expect(byId.get('structured-1')?.headers).to.include({ source: 'java' });
      expect(byId.get('underscore-1')?.headers).to.include({
        signature: Buffer.from([1, 2, 3]).toString('base64'),
      });

      const dead: Envelope[] = [];
      await consume({ kind: 'deadLetters', of: { kind: 'queue', queue } }, async (d) => {
        dead.push(d.envelope);
        await d.ack();
      });
      await waitFor(() => dead.length === 2, { message: 'two dead letters' });
      const reasons = new Map(dead.map((e) => [e.id, readFailure(e)!]));
      expect(reasons.get('')?.code).to.equal('MISSING_HEADER');
      expect(reasons.get('')?.message).to.equal('message has no type');
      expect(reasons.get('bad-json-1')?.code).to.equal('MALFORMED_BODY');
      const garbage = dead.find((e) => e.id === '')!;
      expect(Buffer.from(garbage.body).toString('utf8')).to.equal('garbage {{{ \u00e9');
      expect(bus.stats.deadLettered).to.equal(2);
    });

    it('unwraps SNS envelopes from a subscription without raw message delivery', async function () {
      const channel = uniqueName('ch');
      const group = uniqueName('g');
      const Happened = defineEvent<{ what: string }>({ type: 'aws.Happened', channel });
      const handled: { what: string; ctx: MessageContext }[] = [];

      @Subscriber({ group })
      class HappenedHandlers {
        @Handle(Happened)
        async on(event: { what: string }, ctx: MessageContext): Promise<void> {
          handled.push({ what: event.what, ctx });
        }
      }

      const bus = new Bus({
        transport,
        serviceName: 'aws-test',
        handlers: [HappenedHandlers],
        closeTransport: false,
      });
      await bus.start();
      closeAfter.push({ close: () => bus.stop() });
      const groupQueue = await transport.queueOf({ kind: 'subscription', channel, group });
      const { queueArn, topicArn } = await subscriptionOf(groupQueue.url);
      const { Subscriptions: subscriptions } = await sns.send(
        new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }),
      );
      const subscription = subscriptions!.find((s) => s.Endpoint === queueArn)!;
      await sns.send(
        new SetSubscriptionAttributesCommand({
          SubscriptionArn: subscription.SubscriptionArn,
          AttributeName: 'RawMessageDelivery',
          AttributeValue: 'false',
        }),
      );
      await bus.publish(Happened, { what: 'wrapped' }, { subject: 'thing-1' });
      await waitFor(() => handled.length === 1, { message: 'the wrapped event' });
      expect(handled[0]!.what).to.equal('wrapped');
      expect(handled[0]!.ctx.headers).to.include({ subject: 'thing-1', source: 'aws-test' });
      expect(bus.stats.deadLettered).to.equal(0);
    });
  });
});

const CRASH_VISIBILITY_SECONDS = 3;

/** Runs crashing-consumer.js until it dies on the poison; returns what it handled before. */
async function runCrashingConsumer(queue: string): Promise<{ crashedOn: string; handledIds: string[] }> {
  const script = fileURLToPath(new URL('./crashing-consumer.js', import.meta.url));
  const child = spawn(process.execPath, [script, queue], {
    env: {
      ...process.env,
      OMNIBUS_AWS_TEST_PREFIX: testPrefix,
      OMNIBUS_AWS_TEST_VISIBILITY: String(CRASH_VISIBILITY_SECONDS),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const signal = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the crashing consumer did not crash within 30 s; it said:\n${output}`));
    }, 30_000);
    child.on('exit', (_code, exitSignal) => {
      clearTimeout(timer);
      resolve(exitSignal);
    });
  });
  expect(signal, output).to.equal('SIGKILL');
  const lines = output.split('\n');
  return {
    crashedOn: lines.find((line) => line.startsWith('crash '))?.slice(6) ?? '',
    handledIds: lines.filter((line) => line.startsWith('handled ')).map((line) => line.slice(8)),
  };
}
