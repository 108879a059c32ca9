import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import amqp, { type ConsumeMessage } from 'amqplib';
import { expect } from 'chai';
import { brokerEnv } from '../src/index.js';
import { unreachable } from './unreachable.js';

// Proves the lab's RabbitMQ, with amqplib alone: no Omnibus code runs here.
const url = brokerEnv.rabbitmqUrl;
const where = new URL(url).host;

async function probe(): Promise<void> {
  try {
    const connection = await amqp.connect(url, { timeout: 3_000 });
    await connection.close();
  } catch (error) {
    throw unreachable(`RabbitMQ at ${where}`, error);
  }
}

describeIntegration(`lab: RabbitMQ at ${where}`, probe, () => {
  it('declares a quorum queue, publishes one confirmed message and consumes it', async () => {
    const queue = uniqueName('lab-rabbitmq');
    const connection = await amqp.connect(url);
    const channel = await connection.createConfirmChannel();
    try {
      // A quorum queue needs a real, named node with Raft running: a fake broker would refuse it.
      const declared = await channel.assertQueue(queue, {
        durable: true,
        arguments: { 'x-queue-type': 'quorum' },
      });
      expect(declared.queue).to.equal(queue);

      channel.sendToQueue(queue, Buffer.from('hello from the lab'), {
        persistent: true,
        messageId: 'message-1',
      });
      await channel.waitForConfirms();

      const received: ConsumeMessage[] = [];
      await channel.consume(queue, (message) => {
        if (message) {
          received.push(message);
          channel.ack(message);
        }
      });
      await waitFor(() => received.length > 0, { timeoutMs: 10_000, message: `a message on ${queue}` });

      expect(received).to.have.length(1);
      expect(received[0]!.content.toString()).to.equal('hello from the lab');
      expect(received[0]!.properties.messageId).to.equal('message-1');
    } finally {
      await channel.deleteQueue(queue);
      await connection.close();
    }
  });
});
