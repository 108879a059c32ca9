import { expect } from 'chai';
import { connect } from 'amqplib';
import type { MessageContext } from '@omnibus/core';
import { Bus, Handle, Subscriber, defineQuery, silentLogger } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { RabbitMqTransport } from '../src/index.js';

const url = process.env.OMNIBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

async function probe(): Promise<void> {
  const connection = await connect(url, { timeout: 3_000 });
  await connection.close();
}

describeIntegration('rabbitmq reply queues', probe, () => {
  const Echo = defineQuery<{ text: string }, { text: string }>({
    type: 'test.Echo',
    queue: uniqueName('echo'),
  });

  @Subscriber({ group: 'echo' })
  class EchoHandler {
    @Handle(Echo)
    echo(query: { text: string }, _ctx: MessageContext): { text: string } {
      return { text: query.text };
    }
  }

  async function queueExists(name: string): Promise<boolean> {
    const connection = await connect(url);
    try {
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      await channel.checkQueue(name);
      return true;
    } catch (error) {
      // 405 RESOURCE_LOCKED: it exists, exclusive to another connection; 404: it does not.
      if ((error as { code?: number }).code === 405) return true;
      if ((error as { code?: number }).code === 404) return false;
      throw error;
    } finally {
      await connection.close().catch(() => undefined);
    }
  }

  it('drops raw garbage on the reply queue, counts it, and keeps answering; deletes the queue on stop', async function () {
    this.timeout(60_000);
    const responder = new Bus({
      transport: new RabbitMqTransport({ url }),
      serviceName: 'echo',
      handlers: [EchoHandler],
      logger: silentLogger,
    });
    const requester = new Bus({
      transport: new RabbitMqTransport({ url }),
      serviceName: 'asker',
      logger: silentLogger,
    });
    await responder.start();
    await requester.start();
    try {
      expect(await requester.request(Echo, { text: 'one' })).to.deep.equal({ text: 'one' });
      const address = ((await requester.health()).details!['replies'] as { address: string }).address;
      expect(await queueExists(address)).to.equal(true);
      const raw = await connect(url);
      const channel = await raw.createChannel();
      // No headers, no message id, not JSON: what a foreign client might put there.
      channel.sendToQueue(address, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
      channel.sendToQueue(address, Buffer.from('{"doubled":1}'), {
        headers: { 'omnibus-in-reply-to': 'nobody' },
      });
      await channel.close();
      await raw.close();
      await waitFor(() => requester.stats.malformedReplies === 1 && requester.stats.unknownReplies === 1, {
        message: 'the garbage to be counted',
      });
      expect(await requester.request(Echo, { text: 'two' })).to.deep.equal({ text: 'two' });
      await requester.stop();
      expect(await queueExists(address)).to.equal(false);
    } finally {
      await requester.stop();
      await responder.stop();
    }
  });

  it('loses its reply queue with its connection, as after a crash', async function () {
    this.timeout(60_000);
    const responder = new Bus({
      transport: new RabbitMqTransport({ url }),
      serviceName: 'echo',
      handlers: [EchoHandler],
      logger: silentLogger,
    });
    const transport = new RabbitMqTransport({ url });
    const requester = new Bus({ transport, serviceName: 'asker', logger: silentLogger });
    await responder.start();
    await requester.start();
    try {
      await requester.request(Echo, { text: 'one' });
      const address = ((await requester.health()).details!['replies'] as { address: string }).address;
      // Closing the transport under the bus drops the connection without deleting anything.
      await transport.close();
      expect(await queueExists(address)).to.equal(false);
    } finally {
      await requester.stop();
      await responder.stop();
    }
  });
});
