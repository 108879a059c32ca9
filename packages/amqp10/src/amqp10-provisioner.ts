import type { EventContext } from 'rhea';
import type { Topology } from '@omnibus/core/transport';
import type { Amqp10Connection } from './amqp10-connection.js';
import { toTransportError } from './amqp10-errors.js';
import type { Amqp10Names, Terminus } from './amqp10-names.js';
import type { Amqp10Publisher } from './amqp10-publisher.js';

/**
 * Makes the topology exist by auto-creation: Artemis creates an address, or a queue on it, when a link
 * attaches to it with the routing type as the link's capability (`topic` → multicast, `queue` →
 * anycast), provided the address settings allow it (`auto-create-addresses`, `auto-create-queues`, both
 * on by default) and do not delete it again when its last consumer leaves (`auto-delete-queues` and
 * `auto-delete-addresses` off, as in an instance made by `artemis create`; see docs/activemq.md).
 *
 * A subscriber group's queue must exist before the first event is published (a multicast address drops
 * what no queue takes), so provisioning attaches a receiver to its fully qualified name, with no credit,
 * and detaches it. The same is done for every dead-letter queue, and a sender is attached to each channel.
 */
export class Amqp10Provisioner {
  constructor(
    private readonly connection: Amqp10Connection,
    private readonly publisher: Amqp10Publisher,
    private readonly names: Amqp10Names,
  ) {}

  async provision(topology: Topology): Promise<void> {
    const receivers: Terminus[] = [];
    for (const queue of topology.queues ?? []) {
      const source = { kind: 'queue', queue: queue.name } as const;
      receivers.push(this.names.queue(queue.name), this.names.deadLetters(source));
    }
    for (const subscription of topology.subscriptions ?? []) {
      const source = {
        kind: 'subscription',
        channel: subscription.channel,
        group: subscription.group,
      } as const;
      receivers.push(
        this.names.subscription(subscription.channel, subscription.group),
        this.names.deadLetters(source),
      );
    }
    const channels = new Set([
      ...(topology.channels ?? []).map((channel) => channel.name),
      ...(topology.subscriptions ?? []).map((subscription) => subscription.channel),
    ]);
    await Promise.all([
      ...[...channels].map((channel) => this.publisher.ensure(this.names.channel(channel))),
      ...receivers.map((terminus) => this.#touch(terminus)),
    ]);
  }

  /** Attaches a receiver without credit, then detaches: the queue now exists. */
  #touch(terminus: Terminus): Promise<void> {
    const connection = this.connection.current(`provisioning ${terminus.address}`);
    const receiver = connection.open_receiver({
      source: { address: terminus.address, capabilities: [terminus.capability] },
      credit_window: 0,
      autoaccept: false,
    });
    return new Promise<void>((resolve, reject) => {
      receiver.once('receiver_open', () => {
        receiver.once('receiver_close', () => resolve());
        receiver.close();
      });
      receiver.once('receiver_error', (context: EventContext) => {
        reject(
          toTransportError(
            context.receiver?.error ?? new Error('refused'),
            `provisioning ${terminus.address}`,
          ),
        );
      });
    });
  }
}
