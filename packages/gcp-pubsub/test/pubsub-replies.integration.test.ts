import { expect } from 'chai';
import type { MessageContext } from '@omnibus/core';
import { Bus, Handle, Subscriber, defineQuery, silentLogger } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { PubSubTransport } from '../src/index.js';
import { deleteProject, emulatorHost, probeEmulator, rawClient, runProjectId } from './emulator.js';

const projectId = runProjectId();

describeIntegration('pubsub reply subscriptions', probeEmulator, function () {
  after(async function () {
    this.timeout(60_000);
    await deleteProject(projectId);
  });

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

  function bus(serviceName: string, handlers: (typeof EchoHandler)[] = []): Bus {
    return new Bus({
      transport: new PubSubTransport({ projectId, emulatorHost }),
      serviceName,
      handlers,
      logger: silentLogger,
    });
  }

  it('gives each instance only its own replies (server-side filter), and deletes its subscription on stop', async function () {
    this.timeout(60_000);
    const responder = bus('echo', [EchoHandler]);
    const first = bus('first');
    const second = bus('second');
    await Promise.all([responder.start(), first.start(), second.start()]);
    try {
      const asked = await Promise.all(
        Array.from({ length: 10 }, (_, n) => (n % 2 === 0 ? first : second).request(Echo, { text: `t${n}` })),
      );
      expect(asked.map((answer) => answer.text)).to.deep.equal(Array.from({ length: 10 }, (_, n) => `t${n}`));
      // Replies for the other instance never reach this one: the filter keeps them out.
      expect(first.stats.unknownReplies + second.stats.unknownReplies).to.equal(0);
      const address = ((await first.health()).details!['replies'] as { address: string }).address;
      const subscription = rawClient(projectId).subscription(`omnibus.reply.${address}`);
      expect((await subscription.exists())[0]).to.equal(true);
      await first.stop();
      await waitFor(async () => !(await subscription.exists())[0], {
        message: 'the reply subscription to go',
      });
    } finally {
      await Promise.allSettled([first.stop(), second.stop(), responder.stop()]);
    }
  });
});
