import 'reflect-metadata';
import { expect } from 'chai';
import rhea from 'rhea';
import type { Connection, EventContext, Message, Receiver } from 'rhea';
import type { Envelope, MessageContext } from '@omnibus/core';
import { Bus, Handle, Header, Subscriber, defineCommand, readFailure, uuidv7 } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { Amqp10Names, Amqp10Transport } from '../src/index.js';
import { probeBroker, rawConnection, url } from './broker.js';

const names = new Amqp10Names('');

/** A plain rhea receiver (no Omnibus code) on `address`, collecting what arrives; settles with `settle`. */
function rawReceiver(
  connection: Connection,
  address: string,
  settle: (context: EventContext) => void = (context) => context.delivery?.accept(),
): { receiver: Receiver; messages: Message[] } {
  const messages: Message[] = [];
  const receiver = connection.open_receiver({
    source: { address, capabilities: ['queue'] },
    autoaccept: false,
    credit_window: 10,
  });
  receiver.on('message', (context: EventContext) => {
    messages.push(context.message!);
    settle(context);
  });
  return { receiver, messages };
}

function rawSend(connection: Connection, address: string, messages: Message[]): Promise<void> {
  const sender = connection.open_sender({ target: { address, capabilities: ['queue'] } });
  return new Promise((resolve, reject) => {
    let accepted = 0;
    sender.on('sendable', () => {
      while (messages.length > 0 && sender.sendable()) sender.send(messages.shift()!);
    });
    sender.on('accepted', () => {
      if (++accepted === total) {
        sender.close();
        resolve();
      }
    });
    sender.on('rejected', (context: EventContext) =>
      reject(new Error(`rejected: ${JSON.stringify(context.delivery?.remote_state)}`)),
    );
    const total = messages.length;
  });
}

/** rhea types its section helper as `any`. */
function dataSection(bytes: Buffer): unknown {
  return rhea.message.data_section(bytes) as unknown;
}

function bodyText(message: Message): string {
  const body = message.body as { typecode?: number; content?: Buffer } | Buffer | string;
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  return Buffer.from(body.content ?? []).toString('utf8');
}

describeIntegration('amqp10 specifics (ActiveMQ Artemis)', probeBroker, () => {
  let transport: Amqp10Transport;
  let raw: Connection;
  const closeAfter: { close(): Promise<unknown> }[] = [];

  beforeEach(async function () {
    transport = new Amqp10Transport({ url });
    await transport.connect();
    raw = await rawConnection();
  });

  afterEach(async function () {
    for (const closable of closeAfter.splice(0).reverse()) await closable.close().catch(() => undefined);
    await transport.close();
    raw.close();
  });

  it('writes the CloudEvents AMQP binding that a plain rhea client reads', async function () {
    const queue = uniqueName('q');
    await transport.provision({ queues: [{ name: queue }] });
    const sent: Envelope = {
      id: uuidv7(),
      type: 'amqp10.Placed',
      key: 'order-1',
      headers: { [Header.specVersion]: '1.0', [Header.contentType]: 'application/json', tenant: 'acme' },
      body: Buffer.from('{"orderId":"order-1"}'),
    };
    await transport.publish({ kind: 'queue', queue }, [sent]);
    const { receiver, messages } = rawReceiver(raw, names.queue(queue).address);
    await waitFor(() => messages.length === 1, { message: 'our message, read by plain rhea' });
    receiver.close();
    const message = messages[0]!;
    expect(message.message_id).to.equal(sent.id);
    expect(message.content_type).to.equal('application/json');
    expect(message.group_id).to.equal('order-1');
    expect(message.durable).to.equal(true);
    expect(message.application_properties).to.deep.include({
      'cloudEvents:id': sent.id,
      'cloudEvents:type': 'amqp10.Placed',
      'cloudEvents:specversion': '1.0',
      'cloudEvents:tenant': 'acme',
      'cloudEvents:partitionkey': 'order-1',
    });
    expect(bodyText(message)).to.equal('{"orderId":"order-1"}');
  });

  it("handles a plain rhea client's binary and structured events, and dead-letters its garbage with the reason", async function () {
    const queue = uniqueName('q');
    const Place = defineCommand<{ n: number }>({ type: 'amqp10.Place', queue });
    const handled: number[] = [];

    @Subscriber({ group: 'amqp10-test' })
    class PlaceHandlers {
      @Handle(Place)
      async onPlace(command: { n: number }, _ctx: MessageContext): Promise<void> {
        handled.push(command.n);
      }
    }

    const bus = new Bus({
      transport,
      serviceName: 'amqp10-test',
      handlers: [PlaceHandlers],
      closeTransport: false,
    });
    await bus.start();
    closeAfter.push({ close: () => bus.stop() });
    const address = names.queue(queue).address;
    await rawSend(raw, address, [
      {
        message_id: 'foreign-1',
        content_type: 'application/json',
        application_properties: {
          'cloudEvents:id': 'foreign-1',
          'cloudEvents:type': 'amqp10.Place',
          'cloudEvents:specversion': '1.0',
        },
        body: dataSection(Buffer.from('{"n":1}')),
      },
      {
        content_type: 'application/cloudevents+json',
        body: dataSection(
          Buffer.from(
            JSON.stringify({
              specversion: '1.0',
              id: 'foreign-2',
              type: 'amqp10.Place',
              source: 'rhea',
              data: { n: 2 },
            }),
          ),
        ),
      },
      // No type at all, and bytes that are not JSON.
      {
        message_id: 'garbage-1',
        content_type: 'application/json',
        body: dataSection(Buffer.from([0xff, 0x00])),
      },
      {
        application_properties: { 'cloudEvents:id': 'garbage-2', 'cloudEvents:type': 'amqp10.Place' },
        content_type: 'application/json',
        body: dataSection(Buffer.from([0xff, 0x00, 0x7b])),
      },
      {
        application_properties: { 'cloudEvents:id': 'foreign-3', 'cloudEvents:type': 'amqp10.Place' },
        content_type: 'application/json',
        body: dataSection(Buffer.from('{"n":3}')),
      },
    ]);
    await waitFor(() => handled.length === 3, {
      message: `three foreign events handled (got ${handled.join()})`,
    });
    expect([...handled].sort()).to.deep.equal([1, 2, 3]);
    await waitFor(() => bus.stats.deadLettered === 2, { message: 'the two garbage messages dead-lettered' });

    const { receiver, messages } = rawReceiver(raw, names.deadLetters({ kind: 'queue', queue }).address);
    await waitFor(() => messages.length === 2, { message: 'two dead letters, read by plain rhea' });
    receiver.close();
    const codes = messages.map(
      (m) => (m.application_properties as Record<string, unknown>)['omnibus-error-code'],
    );
    expect(codes.sort()).to.deep.equal(['MALFORMED_BODY', 'MISSING_HEADER']);
    const noType = messages.find((m) => m.message_id === 'garbage-1')!;
    // A dead-letter copy of a message without a type gets no empty CloudEvents attributes (#15.1); its
    // message-id stood in for the missing id.
    const properties = noType.application_properties as Record<string, unknown>;
    expect(properties).to.not.have.property('cloudEvents:type');
    expect(properties['cloudEvents:id']).to.equal('garbage-1');
    expect(Object.values(properties).filter((value) => value === '')).to.deep.equal([]);
    expect((await transport.health()).status).to.equal('up');
  });

  it('dead-letters a message that keeps failing unsettled at deliveryLimit, before Artemis moves it to its DLQ', async function () {
    const queue = uniqueName('q');
    await transport.provision({ queues: [{ name: queue }] });
    const sent: Envelope = {
      id: uuidv7(),
      type: 'amqp10.Crash',
      headers: { [Header.specVersion]: '1.0' },
      body: Buffer.from('{}'),
    };
    await transport.publish({ kind: 'queue', queue }, [sent]);
    // A consumer that "crashes" with every delivery: the broker counts each as a failed delivery.
    let deliveries = 0;
    const { receiver } = rawReceiver(raw, names.queue(queue).address, (context) => {
      deliveries++;
      if (deliveries < 3) context.delivery?.modified({ delivery_failed: true });
      else context.delivery?.release({ delivery_failed: true });
    });
    await waitFor(() => deliveries >= 3, { message: 'three failed deliveries' });
    receiver.close();

    const limited = new Amqp10Transport({ url, deliveryLimit: 3 });
    closeAfter.push(limited);
    const seen: Envelope[] = [];
    closeAfter.push(
      await limited.consume({ kind: 'queue', queue }, async (d) => (seen.push(d.envelope), d.ack()), {
        concurrency: 1,
      }),
    );
    const dead: Envelope[] = [];
    closeAfter.push(
      await limited.consume(
        { kind: 'deadLetters', of: { kind: 'queue', queue } },
        async (d) => (dead.push(d.envelope), d.ack()),
        { concurrency: 1 },
      ),
    );
    await waitFor(() => dead.length === 1, { message: 'the message in our dead-letter queue' });
    expect(seen).to.deep.equal([]);
    expect(dead[0]!.id).to.equal(sent.id);
    expect(readFailure(dead[0]!)).to.include({ code: 'MAX_DELIVERIES_EXCEEDED' });
  });

  it('refuses a deliveryLimit that is not a positive integer, naming the field', function () {
    expect(() => new Amqp10Transport({ url, deliveryLimit: 0 })).to.throw(/deliveryLimit/);
  });
});
