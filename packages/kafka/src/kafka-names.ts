import type { QueueSource, Source, SubscriptionSource } from '@omnibus/core';
import { ConfigurationError } from '@omnibus/core';
import { MAX_TOPIC_NAME_LENGTH, TOPIC_NAME } from './kafka-options.js';

/** Everything a consumer of one source reads and writes on Kafka. */
export interface SourceTopology {
  /** The topic the source's messages are published to; it must exist (`provision`). */
  readonly mainTopic: string;
  /** The consumer group; one per source, so groups never share members subscribed to other topics. */
  readonly groupId: string;
  /** Topics the group reads: the main topic and, when separate, its retry topic. */
  readonly topics: readonly string[];
  /** Where `retry(delay)` writes the message again, with its due time. */
  readonly retryTopic: string;
  /** Where `deadLetter(failure)` writes the message. */
  readonly deadLetterTopic: string;
}

/**
 * The mapping of Omnibus names onto Kafka topics and consumer groups:
 *
 * | Omnibus | topic | consumer group |
 * |---|---|---|
 * | channel `c` | `c` | |
 * | subscription of group `g` to `c` | | `g.c` (also reads `g.c.retry`) |
 * | queue `q` | `q.queue` | `q` (also reads `q.retry`) |
 * | dead letters of a subscription / queue | `g.c.dlq` / `q.dlq` (configurable) | the topic's name |
 *
 * Every name gets `namePrefix` in front. A queue's topic has a suffix because channels and queues share
 * Kafka's one namespace of topics: a service with a channel `payments` (its events) and a queue
 * `payments` (its commands) must not have its command consumers read its events.
 */
export class KafkaNames {
  /** Checked names, by kind and name: publishing looks its topic up on every call. */
  readonly #checked = new Map<string, string>();

  constructor(
    private readonly prefix: string,
    private readonly customDeadLetterTopic?: (source: SubscriptionSource | QueueSource) => string,
  ) {}

  channelTopic(channel: string): string {
    return this.#name('channel', channel);
  }

  queueTopic(queue: string): string {
    return this.#name('queue', queue, '.queue');
  }

  of(source: Source): SourceTopology {
    if (source.kind === 'deadLetters') {
      const deadLetterTopic = this.#deadLetterTopic(source.of);
      return {
        mainTopic: deadLetterTopic,
        groupId: deadLetterTopic,
        topics: [deadLetterTopic],
        // A retried dead letter goes back to the end of its own topic, with its due time.
        retryTopic: deadLetterTopic,
        deadLetterTopic,
      };
    }
    const base = this.#base(source);
    const mainTopic =
      source.kind === 'subscription' ? this.channelTopic(source.channel) : this.queueTopic(source.queue);
    const retryTopic = this.#name('group', `${base}.retry`);
    return {
      mainTopic,
      groupId: this.#name('group', base),
      topics: [mainTopic, retryTopic],
      retryTopic,
      deadLetterTopic: this.#deadLetterTopic(source),
    };
  }

  #base(source: SubscriptionSource | QueueSource): string {
    return source.kind === 'subscription' ? `${source.group}.${source.channel}` : source.queue;
  }

  #deadLetterTopic(source: SubscriptionSource | QueueSource): string {
    const custom = this.customDeadLetterTopic?.(source);
    return this.#name('deadLetterTopic', custom ?? `${this.#base(source)}.dlq`);
  }

  #name(field: string, name: string, suffix = ''): string {
    const key = `${field}\u0000${name}`;
    const known = this.#checked.get(key);
    if (known !== undefined) return known;
    const full = this.prefix + name + suffix;
    if (typeof name !== 'string' || name.length === 0 || !TOPIC_NAME.test(full)) {
      throw new ConfigurationError(field, `${JSON.stringify(name)} is not a valid Kafka name`);
    }
    if (full.length > MAX_TOPIC_NAME_LENGTH) {
      throw new ConfigurationError(field, `${full} is longer than ${MAX_TOPIC_NAME_LENGTH} characters`);
    }
    this.#checked.set(key, full);
    return full;
  }
}
