import { TransportError, exponential, retry } from '@omnibus/core';
import type { Topology } from '@omnibus/core/transport';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaClient } from './kafka-client.js';
import { toTransportError } from './kafka-errors.js';
import type { KafkaNames } from './kafka-names.js';
import type { ResolvedKafkaOptions } from './kafka-options.js';

/** Room on top of `maxMessageBytes` in each topic's `max.message.bytes`: record overhead, dead-letter reasons. */
const TOPIC_HEADROOM_BYTES = 64 * 1024;
/** How long creating topics waits for the partitions of new topics to get leaders. */
const TOPIC_CREATION_TIMEOUT_MS = 30_000;

/**
 * The topics and consumer groups behind a topology: creates what is missing (brokers usually run with
 * auto-creation off), remembers what exists, and starts a new subscription's group at the end of its
 * channel.
 */
export class KafkaProvisioner {
  readonly #knownTopics = new Set<string>();
  #listingTopics: Promise<void> | undefined;
  readonly #initialisedGroups = new Set<string>();

  constructor(
    private readonly client: KafkaClient,
    private readonly options: ResolvedKafkaOptions,
  ) {}

  /** Whether `topic` is known to exist (no round trip). */
  knows(topic: string): boolean {
    return this.#knownTopics.has(topic);
  }

  /** The topics of every channel, queue and subscription, then each new subscription's group at the channel's end. */
  async provision(names: KafkaNames, topology: Topology): Promise<void> {
    const topics = new Set<string>();
    for (const channel of topology.channels ?? []) topics.add(names.channelTopic(channel.name));
    for (const queue of topology.queues ?? []) {
      const source = names.of({ kind: 'queue', queue: queue.name });
      topics.add(source.mainTopic).add(source.retryTopic).add(source.deadLetterTopic);
    }
    const subscriptions = (topology.subscriptions ?? []).map((s) =>
      names.of({ kind: 'subscription', channel: s.channel, group: s.group }),
    );
    for (const source of subscriptions)
      topics.add(source.mainTopic).add(source.retryTopic).add(source.deadLetterTopic);
    await this.createTopics([...topics]);
    await Promise.all(subscriptions.map((source) => this.#startGroupAtEnd(source.groupId, source.mainTopic)));
  }

  /** Creates the topics that do not exist yet. */
  async createTopics(topics: readonly string[]): Promise<void> {
    let missing = topics.filter((topic) => !this.#knownTopics.has(topic));
    if (missing.length === 0) return;
    await this.#listTopics();
    missing = missing.filter((topic) => !this.#knownTopics.has(topic));
    if (missing.length === 0) return;
    const { partitions, replicationFactor, maxMessageBytes } = this.options;
    try {
      await this.client.createTopics(missing, {
        partitions,
        replicationFactor,
        maxMessageBytes: maxMessageBytes + TOPIC_HEADROOM_BYTES,
      });
      await this.#waitForLeaders(missing);
    } catch (error) {
      throw toTransportError(error, `creating topics ${missing.join(', ')}`);
    }
    // Topics another process created meanwhile are reported as existing, not as errors.
    for (const topic of missing) this.#knownTopics.add(topic);
  }

  /** Throws `NOT_PROVISIONED` unless `topic` exists; `what` names the destination or source. */
  async assertTopicExists(topic: string, what: string): Promise<void> {
    if (this.#knownTopics.has(topic)) return;
    await this.#listTopics();
    if (!this.#knownTopics.has(topic)) {
      throw new TransportError(`${what} is not provisioned (no topic ${topic})`, {
        code: 'NOT_PROVISIONED',
        retriable: false,
      });
    }
  }

  /** Waits until every partition of the new topics has a leader, so the first publish finds them. */
  async #waitForLeaders(topics: readonly string[]): Promise<void> {
    const deadline = Date.now() + TOPIC_CREATION_TIMEOUT_MS;
    for (;;) {
      try {
        if (await this.client.haveLeaders(topics)) return;
        if (Date.now() > deadline)
          throw new TransportError('topic leaders not elected in time', { code: 'TIMEOUT' });
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      await sleep(50);
    }
  }

  /** One metadata request for every caller waiting at the same time. */
  #listTopics(): Promise<void> {
    this.#listingTopics ??= this.client
      .listTopics()
      .then(
        (topics) => {
          for (const topic of topics) this.#knownTopics.add(topic);
        },
        (error: unknown) => {
          throw toTransportError(error, 'listing topics');
        },
      )
      .finally(() => (this.#listingTopics = undefined));
    return this.#listingTopics;
  }

  /**
   * A new subscription starts where it is provisioned, like a queue bound to an exchange: a group with
   * no committed offsets and no members gets the current end of the channel committed. Committing even
   * on a new, empty topic leaves a mark, so a later provisioning (by another instance, after messages
   * were published) does not move the group past them.
   */
  async #startGroupAtEnd(groupId: string, topic: string): Promise<void> {
    if (this.#initialisedGroups.has(groupId)) return;
    const client = this.client;
    // Right after a topic is created its leader may still refuse requests for a moment: retried.
    const attempt = async (): Promise<void> => {
      const committed = await client.committedOffsets(groupId, topic);
      const positioned = committed.some((p) => p.offset >= 0);
      if (!positioned && !(await client.hasMembers(groupId))) {
        await client.commitForEmptyGroup(groupId, topic, await client.endOffsets(topic));
      }
    };
    try {
      await retry(attempt, {
        attempts: 10,
        backoff: exponential({ initialMs: 50, maxMs: 1_000 }),
        retriable: (error) => toTransportError(error, 'positioning').retriable,
      });
    } catch (error) {
      throw toTransportError(error, `positioning consumer group ${groupId} at the end of ${topic}`);
    }
    this.#initialisedGroups.add(groupId);
  }
}
