import type { Source } from '@omnibus/core';
import { ConfigurationError } from '@omnibus/core';
import { MAX_NAME_BYTES } from './rabbitmq-options.js';

/** The longest suffix a work queue gets (its retry queue for the largest delay bucket). */
const LONGEST_SUFFIX = `.delay.${2 ** 32}`;
/** Per-message TTL is a 32-bit number of milliseconds in RabbitMQ. */
export const MAX_RETRY_DELAY_MS = 2 ** 32 - 1;

/**
 * How Omnibus names map to RabbitMQ names (all with the configured prefix):
 * - channel `orders` → topic exchange `orders`
 * - subscriber group `billing` of channel `orders` → quorum queue `orders/billing` (the source's
 *   `describeSource` name, so logs, errors and the broker agree)
 * - command queue `payments` → quorum queue `payments`
 * - dead letters of queue `q` → `q.dlq`; delayed retries of `q` → `q.delay.<bucket ms>`
 * - retried copies, with or without a delay, reach their work queue through the direct exchange
 *   `omnibus/retry` (see `retryExchange`)
 */
export class RabbitMqNames {
  /** Checked names by channel and by command queue: publishing asks for them on every call. */
  readonly #exchanges = new Map<string, string>();
  readonly #queues = new Map<string, string>();

  /**
   * The exchange every retried copy reaches its work queue through (bound by queue name). The delivery's
   * `exchange` is set by the broker, so it tells our retry route from a producer's publish (default
   * exchange or a channel's); a `/` keeps it apart from every channel's exchange. A producer can still
   * publish to it by name unless RabbitMQ's write permissions deny it (see docs/security.md).
   */
  readonly retryExchange: string;

  constructor(readonly prefix: string) {
    this.retryExchange = `${prefix}omnibus/retry`;
  }

  exchange(channel: string): string {
    let name = this.#exchanges.get(channel);
    if (name === undefined) {
      name = this.#checked('channel', this.prefix + channel, '');
      this.#exchanges.set(channel, name);
    }
    return name;
  }

  /** The queue a source reads from. */
  queue(source: Source): string {
    switch (source.kind) {
      case 'subscription':
        return this.#checked('group', `${this.prefix}${source.channel}/${source.group}`, LONGEST_SUFFIX);
      case 'queue': {
        let name = this.#queues.get(source.queue);
        if (name === undefined) {
          name = this.#checked('queue', this.prefix + source.queue, LONGEST_SUFFIX);
          this.#queues.set(source.queue, name);
        }
        return name;
      }
      case 'deadLetters':
        return deadLetterQueueOf(this.queue(source.of));
    }
  }

  #checked(field: string, name: string, suffix: string): string {
    if (name.length === 0) throw new ConfigurationError(field, 'must not be empty');
    if (name.startsWith('amq.'))
      throw new ConfigurationError(field, `${name}: 'amq.' names are reserved by RabbitMQ`);
    if (Buffer.byteLength(name + suffix) > MAX_NAME_BYTES) {
      throw new ConfigurationError(field, `${name} is too long for RabbitMQ (255 bytes with suffixes)`);
    }
    return name;
  }
}

export function deadLetterQueueOf(workQueue: string): string {
  return `${workQueue}.dlq`;
}

export function retryQueueOf(workQueue: string, bucketMs: number): string {
  return `${workQueue}.delay.${bucketMs}`;
}

/**
 * The retry queue bucket for a delay: the smallest power of two ≥ `delayMs`. Messages in one bucket have
 * delays within a factor of two, so a message waiting behind a longer one (TTL expires at the head only)
 * is held at most until that one's expiry: never sooner than asked, at worst under twice as late.
 */
export function retryBucketOf(delayMs: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, delayMs)));
}
