import { expect } from 'chai';
import type { ChannelModel } from 'amqplib';
import { connect } from 'amqplib';
import type { Socket } from 'node:net';
import { isOmnibusError, silentLogger } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { RabbitMqConnection } from '../src/rabbitmq-connection.js';
import type { Outgoing } from '../src/confirm-publisher.js';
import { ConfirmPublisher } from '../src/confirm-publisher.js';
import { resolveRabbitMqOptions } from '../src/rabbitmq-options.js';

const url = process.env.OMNIBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

async function probe(): Promise<void> {
  const connection = await connect(url, { timeout: 3_000 });
  await connection.close();
}

function toQueue(queue: string, id: string, body = id): Outgoing {
  return {
    exchange: '',
    routingKey: queue,
    message: {
      content: Buffer.from(body),
      options: { messageId: id, mandatory: true, persistent: true, headers: {} },
    },
  };
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(isOmnibusError(error) && error.code, String(error)).to.equal(code);
    return;
  }
  expect.fail(`resolved; expected a rejection with ${code}`);
}

describeIntegration('rabbitmq confirm publisher', probe, () => {
  let raw: ChannelModel;
  let connection: RabbitMqConnection;
  let publisher: ConfirmPublisher;
  const queues: string[] = [];

  beforeEach(async function () {
    raw = await connect(url);
    connection = new RabbitMqConnection(resolveRabbitMqOptions({ url }));
    await connection.open();
    publisher = new ConfirmPublisher(connection, silentLogger);
  });

  afterEach(async function () {
    await publisher.close();
    await connection.close();
    const channel = await raw.createChannel();
    for (const queue of queues.splice(0)) await channel.deleteQueue(queue);
    await raw.close();
  });

  async function declare(): Promise<string> {
    const queue = uniqueName('confirm');
    queues.push(queue);
    const channel = await raw.createChannel();
    await channel.assertQueue(queue, { durable: true });
    await channel.close();
    return queue;
  }

  async function depth(queue: string): Promise<number> {
    const channel = await raw.createChannel();
    try {
      return (await channel.checkQueue(queue)).messageCount;
    } finally {
      await channel.close();
    }
  }

  it('resolves once the broker has confirmed every message of the call, which are then in the queue', async function () {
    const queue = await declare();
    const messages = Array.from({ length: 500 }, (_, i) => toQueue(queue, `m-${i}`));
    await publisher.publish(messages);
    expect(await depth(queue)).to.equal(500);
  });

  it("writes through amqplib's channel internals (no fallback warning) every property a foreign client reads", async function () {
    const warnings: string[] = [];
    const logger = {
      ...silentLogger,
      warn: (_fields: Record<string, unknown>, message: string) => warnings.push(message),
    };
    const direct = new ConfirmPublisher(connection, logger);
    const queue = await declare();
    const headers = { cloudEvents_id: 'p-1', cloudEvents_type: 'orders.Placed', attempt: 3 };
    await direct.publish([
      {
        exchange: '',
        routingKey: queue,
        message: {
          content: Buffer.from('{"a":1}'),
          options: {
            persistent: true,
            mandatory: true,
            messageId: 'p-1',
            contentType: 'application/json',
            expiration: '600000',
            headers,
          },
        },
      },
    ]);
    await direct.close();
    const channel = await raw.createChannel();
    const message = await channel.get(queue, { noAck: true });
    await channel.close();
    expect(warnings).to.deep.equal([]);
    expect(message && message.content.toString()).to.equal('{"a":1}');
    expect(message && message.properties).to.deep.include({
      deliveryMode: 2,
      messageId: 'p-1',
      contentType: 'application/json',
      expiration: '600000',
      headers,
    });
  });

  it('writes the frames the connection has ready in a few socket writes, not one per message', async function () {
    const queue = await declare();
    // The connection's socket, to count how often it writes (amqplib 2.3 internals, see coalesced-writes.ts).
    const socket = (connection.model().connection as unknown as { stream: Socket }).stream;
    const counted = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
    let writes = 0;
    for (const method of ['_write', '_writev'] as const) {
      const original = counted[method];
      counted[method] = function (this: unknown, ...args: unknown[]) {
        writes++;
        return original.apply(this, args);
      };
    }
    await publisher.publish(Array.from({ length: 500 }, (_, i) => toQueue(queue, `w-${i}`)));
    expect(await depth(queue)).to.equal(500);
    expect(writes, 'socket writes for 500 publishes').to.be.below(100);
  });

  it('rejects with NOT_PROVISIONED for a queue that does not exist (returned, not silently dropped)', async function () {
    const queue = await declare();
    const missing = uniqueName('missing');
    await expectCode(publisher.publish([toQueue(queue, 'a'), toQueue(missing, 'b')]), 'NOT_PROVISIONED');
    // The routable one of the same call was stored.
    expect(await depth(queue)).to.equal(1);
  });

  it('rejects with UNROUTABLE when no queue is bound to the exchange', async function () {
    const exchange = uniqueName('confirm-x');
    const channel = await raw.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: false, autoDelete: true });
    await channel.close();
    const outgoing: Outgoing = {
      exchange,
      routingKey: 'nobody',
      message: { content: Buffer.from('x'), options: { messageId: 'x', mandatory: true, headers: {} } },
    };
    await expectCode(publisher.publish([outgoing]), 'UNROUTABLE');
  });

  it('tells returned messages apart when several publishes share one message id', async function () {
    const queue = await declare();
    const missing = uniqueName('missing');
    const ok = publisher.publish([toQueue(queue, 'same')]);
    const returned = publisher.publish([toQueue(missing, 'same')]);
    await ok;
    await expectCode(returned, 'NOT_PROVISIONED');
  });

  it('fails a publish whose channel the broker closes, then opens a new channel on next use', async function () {
    const queue = await declare();
    await publisher.publish([toQueue(queue, 'before')]);
    // A publish to an exchange that does not exist makes the broker close the channel (404), so the
    // messages of that call are never confirmed: the call must reject, not resolve.
    const gone: Outgoing = {
      exchange: uniqueName('no-such-exchange'),
      routingKey: 'x',
      message: { content: Buffer.from('x'), options: { messageId: 'gone', headers: {} } },
    };
    const failed = publisher.publish([gone]);
    let error: unknown;
    await failed.catch((caught: unknown) => (error = caught));
    expect(isOmnibusError(error), String(error)).to.equal(true);
    await waitFor(
      async () => {
        try {
          await publisher.publish([toQueue(queue, 'after')]);
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 10_000, message: 'a publish on a fresh channel' },
    );
    expect(await depth(queue)).to.be.at.least(2);
  });

  it('keeps every message of a call larger than the socket buffer (waits for drain)', async function () {
    const queue = await declare();
    const body = 'x'.repeat(64 * 1024);
    const messages = Array.from({ length: 200 }, (_, i) => toQueue(queue, `big-${i}`, body));
    await publisher.publish(messages);
    expect(await depth(queue)).to.equal(200);
  });
});
