import type { Source } from '@omnibus/core';

/** Where a link attaches: an address (or a fully qualified queue name) and its routing type. */
export interface Terminus {
  readonly address: string;
  /** `topic`: a multicast address (Artemis); `queue`: anycast. The capability Artemis auto-creates by. */
  readonly capability: 'topic' | 'queue';
}

/**
 * Names on the broker (Artemis's address model, which AMQP 1.0 brokers map in their own ways):
 * - a channel is the multicast address `<prefix><channel>`;
 * - a subscriber group is the durable multicast queue `<prefix><channel>.<group>` on it, reached by its
 *   fully qualified name `<address>::<queue>` (so a retry copy goes to that group alone);
 * - a command queue is the anycast address and queue `<prefix><queue>.queue`: Artemis has one address
 *   space, so a channel and a queue of one name (the sample's `inventory`) need two addresses;
 * - the dead letters of any of these are the anycast queue `<queue name>.dlq`.
 */
export class Amqp10Names {
  constructor(private readonly prefix: string) {}

  channel(channel: string): Terminus {
    return { address: this.prefix + channel, capability: 'topic' };
  }

  queue(queue: string): Terminus {
    return { address: `${this.prefix}${queue}.queue`, capability: 'queue' };
  }

  /** The queue of one subscriber group, by its fully qualified name. */
  subscription(channel: string, group: string): Terminus {
    return { address: `${this.prefix}${channel}::${this.prefix}${channel}.${group}`, capability: 'topic' };
  }

  /** The terminus a consumer of `source` reads, which is also where its retry copies go. */
  source(source: Source): Terminus {
    switch (source.kind) {
      case 'subscription':
        return this.subscription(source.channel, source.group);
      case 'queue':
        return this.queue(source.queue);
      case 'deadLetters':
        return this.deadLetters(source.of);
    }
  }

  /** The dead-letter queue of `source` (of itself, for a dead-letter source). */
  deadLetters(source: Source): Terminus {
    if (source.kind === 'deadLetters') return this.deadLetters(source.of);
    const queue =
      source.kind === 'queue'
        ? this.queue(source.queue).address
        : `${this.prefix}${source.channel}.${source.group}`;
    return { address: `${queue}.dlq`, capability: 'queue' };
  }
}
