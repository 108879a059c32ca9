import { expect } from 'chai';
import { GetQueueUrlCommand, ListQueueTagsCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { MessageContext } from '@omnibus/core';
import { Bus, Handle, Subscriber, defineQuery, silentLogger } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { connectedTransport, probe, rawSqs } from './aws-fixtures.js';

describeIntegration('aws reply queues', probe, () => {
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

  it('tags its queue, drops raw garbage and keeps answering, and deletes the queue on stop', async function () {
    this.timeout(60_000);
    const sqs = rawSqs();
    const responder = new Bus({
      transport: await connectedTransport(),
      serviceName: 'echo',
      handlers: [EchoHandler],
      logger: silentLogger,
    });
    const requester = new Bus({
      transport: await connectedTransport(),
      serviceName: 'asker',
      logger: silentLogger,
    });
    await responder.start();
    await requester.start();
    try {
      expect(await requester.request(Echo, { text: 'one' })).to.deep.equal({ text: 'one' });
      const address = ((await requester.health()).details!['replies'] as { address: string }).address;
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: address }));
      const { Tags } = await sqs.send(new ListQueueTagsCommand({ QueueUrl }));
      expect(Tags).to.have.property('omnibus:reply', 'true');
      expect(Date.parse(Tags!['omnibus:started-at']!)).to.be.closeTo(Date.now(), 60_000);
      // No attributes at all, not JSON: what a foreign client might put there.
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'garbage' }));
      await waitFor(() => requester.stats.malformedReplies === 1, { message: 'the garbage to be counted' });
      expect(await requester.request(Echo, { text: 'two' })).to.deep.equal({ text: 'two' });
      await requester.stop();
      const gone = await sqs.send(new GetQueueUrlCommand({ QueueName: address })).then(
        () => false,
        () => true,
      );
      expect(gone, 'the reply queue is deleted').to.equal(true);
    } finally {
      await requester.stop();
      await responder.stop();
      sqs.destroy();
    }
  });
});
