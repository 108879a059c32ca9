import { expect } from 'chai';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { connect } from 'amqplib';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { AckBatcher } from '../src/ack-batcher.js';

const url = process.env.OMNIBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

async function probe(): Promise<void> {
  const connection = await connect(url, { timeout: 3_000 });
  await connection.close();
}

/** The acks the batcher writes on a real channel: each call still goes to the broker. */
interface AckFrame {
  readonly tag: number;
  readonly multiple: boolean;
}

describeIntegration('rabbitmq ack batcher', probe, () => {
  let connection: ChannelModel;
  let channel: Channel;
  let queue: string;
  let frames: AckFrame[];
  let received: ConsumeMessage[];

  beforeEach(async function () {
    connection = await connect(url);
    channel = await connection.createChannel();
    queue = uniqueName('ack-batcher');
    await channel.assertQueue(queue, { durable: false, autoDelete: false });
    frames = [];
    received = [];
    const ack = channel.ack.bind(channel);
    channel.ack = (message: ConsumeMessage, allUpTo?: boolean) => {
      frames.push({ tag: message.fields.deliveryTag, multiple: allUpTo === true });
      ack(message, allUpTo);
    };
  });

  afterEach(async function () {
    const cleanup = await connection.createChannel();
    await cleanup.deleteQueue(queue);
    await connection.close();
  });

  async function deliver(count: number, batcher: () => AckBatcher): Promise<void> {
    for (let i = 0; i < count; i++) channel.sendToQueue(queue, Buffer.from(String(i)));
    await channel.prefetch(count);
    await channel.consume(queue, (message) => {
      if (message === null) return;
      batcher().delivered(message);
      received.push(message);
    });
    await waitFor(() => received.length === count, { timeoutMs: 10_000 });
  }

  async function queueDepth(): Promise<number> {
    const probeChannel = await connection.createChannel();
    try {
      return (await probeChannel.checkQueue(queue)).messageCount;
    } finally {
      await probeChannel.close();
    }
  }

  it('acks a run of settled deliveries at the front as one multiple ack, the rest one by one', async function () {
    const batcher = new AckBatcher(channel);
    await deliver(5, () => batcher);
    // Settled: 1, 2, 3 (the front run) and 5; 4 is not.
    for (const index of [2, 0, 1, 4]) batcher.ack(received[index]!);
    await waitFor(() => frames.length > 0, { timeoutMs: 5_000 });
    expect(frames).to.deep.equal([
      { tag: received[2]!.fields.deliveryTag, multiple: true },
      { tag: received[4]!.fields.deliveryTag, multiple: false },
    ]);
    // The broker took them: closing the channel puts back only the one left unacked.
    await channel.close();
    await waitFor(async () => (await queueDepth()) === 1, { timeoutMs: 10_000 });
  });

  it('sends nothing twice and never lets a multiple ack cover an unsettled tag', async function () {
    const batcher = new AckBatcher(channel);
    await deliver(4, () => batcher);
    batcher.ack(received[1]!);
    batcher.ack(received[1]!);
    batcher.flush();
    batcher.ack(received[0]!);
    batcher.flush();
    batcher.flush();
    expect(frames).to.deep.equal([
      { tag: received[1]!.fields.deliveryTag, multiple: false },
      { tag: received[0]!.fields.deliveryTag, multiple: true },
    ]);
    // A double ack would make RabbitMQ close the channel with PRECONDITION_FAILED; it is still open.
    await channel.checkQueue(queue);
    await channel.close();
    await waitFor(async () => (await queueDepth()) === 2, { timeoutMs: 10_000 });
  });

  it('requeues at once, and forgets the tag so a later ack of it sends nothing', async function () {
    const batcher = new AckBatcher(channel);
    await deliver(2, () => batcher);
    batcher.requeue(received[0]!);
    batcher.ack(received[0]!);
    batcher.ack(received[1]!);
    batcher.flush();
    // Tag 1 is gone from the outstanding ones, so tag 2 is now the front: a multiple ack of 2 alone.
    expect(frames).to.deep.equal([{ tag: received[1]!.fields.deliveryTag, multiple: true }]);
    await waitFor(() => received.length === 3, { timeoutMs: 10_000 });
    expect(received[2]!.fields.redelivered).to.equal(true);
    expect(received[2]!.content.toString()).to.equal('0');
  });

  it('sends nothing once closed (the channel is gone and the broker requeues)', async function () {
    const batcher = new AckBatcher(channel);
    await deliver(2, () => batcher);
    batcher.ack(received[0]!);
    batcher.close();
    batcher.flush();
    batcher.ack(received[1]!);
    batcher.requeue(received[1]!);
    batcher.flush();
    expect(frames).to.deep.equal([]);
    await channel.close();
    await waitFor(async () => (await queueDepth()) === 2, { timeoutMs: 10_000 });
  });
});
