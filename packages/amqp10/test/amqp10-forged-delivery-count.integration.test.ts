import 'reflect-metadata';
import { expect } from 'chai';
import rhea from 'rhea';
import type { Connection, EventContext, Message } from 'rhea';
import type { Envelope } from '@omnibus/core';
import {
  Bus,
  Handle,
  Subscriber,
  constant,
  defineCommand,
  readFailure,
  silentLogger,
  uuidv7,
} from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { Amqp10Names, Amqp10Transport } from '../src/index.js';
import { probeBroker, rawConnection, url } from './broker.js';

const names = new Amqp10Names('');

function send(connection: Connection, queue: string, message: Message): Promise<void> {
  const target = names.queue(queue);
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
 * #16.6, the capped gap: Artemis passes a producer's header `delivery-count` through on a first delivery,
 * and no broker-set fact tells that delivery from a redelivery. A forged count can only raise the attempt
 * of its own message (it is unsigned and added to ours): that message is dead-lettered sooner, with the
 * reason; the next message of the same key gets its whole budget, and a count of 0 gives nothing extra.
 */
describeIntegration('amqp10 forged delivery-count (ActiveMQ Artemis)', probeBroker, () => {
  let raw: Connection;
  let transport: Amqp10Transport;
  let bus: Bus | undefined;
  before(async function () {
    raw = await rawConnection();
  });
  after(function () {
    raw.close();
  });
  afterEach(async function () {
    await bus?.stop();
    await transport.close();
  });

  it('shortens only the forged message budget, never lengthens any', async function () {
    this.timeout(60_000);
    transport = new Amqp10Transport({ url });
    await transport.connect();
    const Pay = defineCommand<{ n: number }>({ type: 'security.Pay', queue: uniqueName('pay') });
    const calls = new Map<number, number>();
    @Subscriber({ group: uniqueName('g') })
    class Failing {
      @Handle(Pay)
      pay(p: { n: number }) {
        calls.set(p.n, (calls.get(p.n) ?? 0) + 1);
        throw new Error('always');
      }
    }
    bus = new Bus({
      transport,
      serviceName: 'forged-delivery-count',
      handlers: [Failing],
      closeTransport: false,
      logger: silentLogger,
      retry: { attempts: 3, backoff: constant(0) },
    });
    await bus.start();
    const dead = new Map<string, Envelope>();
    const deadLetters = await transport.consume(
      { kind: 'deadLetters', of: { kind: 'queue', queue: Pay.queue } },
      async (d) => {
        dead.set(d.envelope.id, d.envelope);
        await d.ack();
      },
      { concurrency: 4 },
    );
    try {
      const message = (n: number, deliveryCount: number) => {
        const id = uuidv7();
        return {
          id,
          wire: {
            message_id: id,
            group_id: 'one-key',
            delivery_count: deliveryCount,
            content_type: 'application/json',
            application_properties: { 'cloudEvents:id': id, 'cloudEvents:type': Pay.type },
            body: rhea.message.data_section(Buffer.from(JSON.stringify({ n }))) as unknown,
          } as Message,
        };
      };
      const hopeless = message(1, 99); // at or above deliveryLimit (5): never handed to a handler
      const shortened = message(2, 1); // one try fewer
      const zero = message(3, 0); // the whole budget, not more
      for (const m of [hopeless, shortened, zero]) await send(raw, Pay.queue, m.wire);
      await waitFor(() => [hopeless, shortened, zero].every((m) => dead.has(m.id)), {
        timeoutMs: 30_000,
        message: 'the three dead letters',
      });
      expect(readFailure(dead.get(hopeless.id)!)?.code).to.equal('MAX_DELIVERIES_EXCEEDED');
      expect(calls.get(1) ?? 0, 'handler calls of the hopeless one').to.equal(0);
      expect(calls.get(2), 'handler calls of the shortened one').to.equal(2);
      expect(calls.get(3), 'handler calls with a count of 0').to.equal(3);
      expect(readFailure(dead.get(zero.id)!)?.attempts).to.equal(3);
    } finally {
      await deadLetters.close();
    }
  });
});
