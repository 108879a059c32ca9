import { expect } from 'chai';
import type { Envelope } from '@omnibus/core';
import { Header, isOmnibusError, uuidv7 } from '@omnibus/core';
import { describeIntegration, uniqueName } from '@omnibus/core/testing';
import { Amqp10Transport } from '../src/index.js';
import { ArtemisManagement } from './artemis-management.js';
import { probeBroker, url } from './broker.js';

function envelope(): Envelope {
  const id = uuidv7();
  return {
    id,
    type: 'amqp10.Provisioned',
    headers: { [Header.specVersion]: '1.0' },
    body: Buffer.from('{}'),
  };
}

describeIntegration('amqp10 provisioning (ActiveMQ Artemis)', probeBroker, () => {
  let management: ArtemisManagement;
  const transports: Amqp10Transport[] = [];

  before(async function () {
    management = await ArtemisManagement.open();
  });

  after(function () {
    management?.close();
  });

  afterEach(async function () {
    await Promise.allSettled(transports.splice(0).map((t) => t.close()));
  });

  async function createTransport(): Promise<Amqp10Transport> {
    const transport = new Amqp10Transport({ url });
    transports.push(transport);
    await transport.connect();
    return transport;
  }

  const routingTypes = async (address: string): Promise<unknown> =>
    management.attribute(`address.${address}`, 'routingTypes');
  const queueAttribute = async (queue: string, name: string): Promise<unknown> =>
    management.attribute(`queue.${queue}`, name);

  it('makes a channel a multicast address with a durable multicast queue per group, and a command queue an anycast one', async function () {
    const channel = uniqueName('ch');
    const queue = uniqueName('q');
    const transport = await createTransport();
    await transport.provision({
      channels: [{ name: channel }],
      subscriptions: [
        { channel, group: 'billing' },
        { channel, group: 'shipping' },
      ],
      queues: [{ name: queue }],
    });
    expect(await routingTypes(channel)).to.deep.equal(['MULTICAST']);
    for (const group of ['billing', 'shipping']) {
      const name = `${channel}.${group}`;
      expect(await queueAttribute(name, 'address')).to.equal(channel);
      expect(await queueAttribute(name, 'routingType')).to.equal('MULTICAST');
      expect(await queueAttribute(name, 'durable')).to.equal(true);
      expect(await routingTypes(`${name}.dlq`)).to.deep.equal(['ANYCAST']);
      expect(await queueAttribute(`${name}.dlq`, 'durable')).to.equal(true);
    }
    // A command queue has an address of its own, so a channel of the same name stays apart.
    expect(await routingTypes(`${queue}.queue`)).to.deep.equal(['ANYCAST']);
    expect(await queueAttribute(`${queue}.queue`, 'routingType')).to.equal('ANYCAST');
    expect(await queueAttribute(`${queue}.queue`, 'durable')).to.equal(true);
    expect(await routingTypes(`${queue}.queue.dlq`)).to.deep.equal(['ANYCAST']);
  });

  it('provisions idempotently, from another transport too, keeping what waits in the queues', async function () {
    const channel = uniqueName('ch');
    const queue = uniqueName('q');
    const topology = {
      channels: [{ name: channel }],
      subscriptions: [{ channel, group: 'g' }],
      queues: [{ name: queue }],
    };
    const first = await createTransport();
    await first.provision(topology);
    await first.publish({ kind: 'queue', queue }, [envelope(), envelope(), envelope()]);
    await first.publish({ kind: 'channel', channel }, [envelope(), envelope()]);
    await first.provision(topology);
    const second = await createTransport();
    await second.provision(topology);
    expect(await queueAttribute(`${queue}.queue`, 'messageCount')).to.equal(3);
    expect(await queueAttribute(`${channel}.g`, 'messageCount')).to.equal(2);
    const queues = (await management.invoke('broker', 'getQueueNames')) as string[];
    expect(queues.filter((name) => name.startsWith(queue)).sort()).to.deep.equal([
      `${queue}.queue`,
      `${queue}.queue.dlq`,
    ]);
    expect(queues.filter((name) => name.startsWith(channel)).sort()).to.deep.equal([
      `${channel}.g`,
      `${channel}.g.dlq`,
    ]);
  });

  it('refuses an existing address of the wrong routing type with a typed error naming it', async function () {
    const queue = uniqueName('q');
    // Someone else made our command queue's address multicast.
    await management.invoke('broker', 'createAddress', [`${queue}.queue`, 'MULTICAST']);
    const transport = await createTransport();
    const error = await transport.provision({ queues: [{ name: queue }] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isOmnibusError(error), String(error)).to.equal(true);
    expect(error).to.include({ code: 'INCOMPATIBLE_TOPOLOGY', retriable: false });
    expect((error as Error).message)
      .to.contain(`${queue}.queue`)
      .and.to.match(/routing type/);
    // Consuming it is refused the same way, and the address is left as it was.
    const consuming = await transport
      .consume({ kind: 'queue', queue }, async (d) => d.ack(), { concurrency: 1 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(consuming).to.include({ code: 'INCOMPATIBLE_TOPOLOGY' });
    expect(await routingTypes(`${queue}.queue`)).to.deep.equal(['MULTICAST']);
  });
});
