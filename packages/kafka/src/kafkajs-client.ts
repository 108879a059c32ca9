import type { Admin, Consumer, Kafka as KafkaJs, Producer, SASLOptions } from 'kafkajs';
import { Kafka } from 'kafkajs';
import type {
  CommittedOffset,
  GroupMember,
  KafkaClient,
  MemberEvents,
  MemberSettings,
  OffsetCommit,
  PartitionOffset,
  TopicSettings,
} from './kafka-client.js';
import { isRetriableKafkaError } from './kafka-errors.js';
import { KAFKAJS_LOG_LEVEL, kafkaLogCreator } from './kafka-log.js';
import type { ResolvedKafkaOptions } from './kafka-options.js';
import type { TopicRecords } from './produce-queue.js';
import { StablePartitioner } from './stable-partitioner.js';
import { fixKafkaJsNegativeTimeout } from './kafkajs-warnings.js';

interface ProducerSlot {
  readonly producer: Producer;
  readonly connected: Promise<void>;
}

/** The transport's client on kafkajs 2.2 (its last release; eager rebalancing only). */
export class KafkaJsClient implements KafkaClient {
  readonly name = 'kafkajs';
  readonly #kafka: KafkaJs;
  readonly #options: ResolvedKafkaOptions;
  #admin: Admin | undefined;
  #producerSlot: ProducerSlot | undefined;

  constructor(options: ResolvedKafkaOptions) {
    this.#options = options;
    const { brokers, clientId, ssl, sasl, logger } = options;
    fixKafkaJsNegativeTimeout();
    this.#kafka = new Kafka({
      brokers: [...brokers],
      clientId,
      ...(ssl === undefined ? {} : { ssl }),
      ...(sasl === undefined ? {} : { sasl: { ...sasl } as SASLOptions }),
      logLevel: KAFKAJS_LOG_LEVEL,
      logCreator: kafkaLogCreator(logger),
    });
  }

  async connect(): Promise<void> {
    if (this.#admin === undefined) {
      const admin = this.#kafka.admin();
      await admin.connect();
      this.#admin = admin;
    }
    await this.#producer();
  }

  listTopics(): Promise<string[]> {
    return this.#adminClient().listTopics();
  }

  async createTopics(topics: readonly string[], settings: TopicSettings): Promise<void> {
    await this.#adminClient().createTopics({
      // kafkajs waits for leaders but gives up on the UNKNOWN_TOPIC_OR_PARTITION a KRaft broker answers
      // for a moment after creating a topic; the transport waits itself.
      waitForLeaders: false,
      topics: topics.map((topic) => ({
        topic,
        numPartitions: settings.partitions,
        ...(settings.replicationFactor === undefined
          ? {}
          : { replicationFactor: settings.replicationFactor }),
        configEntries: [{ name: 'max.message.bytes', value: String(settings.maxMessageBytes) }],
      })),
    });
  }

  async haveLeaders(topics: readonly string[]): Promise<boolean> {
    const metadata = await this.#adminClient().fetchTopicMetadata({ topics: [...topics] });
    return metadata.topics.every(
      (topic) => topic.partitions.length > 0 && topic.partitions.every((p) => p.leader >= 0),
    );
  }

  async committedOffsets(groupId: string, topic: string): Promise<CommittedOffset[]> {
    const [current] = await this.#adminClient().fetchOffsets({ groupId, topics: [topic] });
    return (current?.partitions ?? []).map((p) => ({
      partition: p.partition,
      offset: Number(p.offset),
      metadata: p.metadata,
    }));
  }

  async hasMembers(groupId: string): Promise<boolean> {
    const { groups } = await this.#adminClient().describeGroups([groupId]);
    return groups.some((g) => g.members.length > 0);
  }

  async endOffsets(topic: string): Promise<PartitionOffset[]> {
    const ends = await this.#adminClient().fetchTopicOffsets(topic);
    return ends.map(({ partition, high }) => ({ partition, offset: Number(high) }));
  }

  /**
   * kafkajs commits only inside a group membership (its `admin.setOffsets` does the same, but waits out a
   * full 5 s fetch): a brief membership that reads nothing.
   */
  async commitForEmptyGroup(
    groupId: string,
    topic: string,
    offsets: readonly PartitionOffset[],
  ): Promise<void> {
    const consumer = this.#consumer({
      groupId,
      topics: [topic],
      ...this.#options.consumer,
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic] });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async () => undefined,
      });
      consumer.pause([{ topic }]);
      await consumer.commitOffsets(
        offsets.map(({ partition, offset }) => ({ topic, partition, offset: String(offset) })),
      );
    } finally {
      await consumer.disconnect();
    }
  }

  async brokerCount(): Promise<number> {
    return (await this.#adminClient().describeCluster()).brokers.length;
  }

  /** One produce request per broker (kafkajs groups the records by partition). */
  async send(batch: readonly TopicRecords[]): Promise<void> {
    const slot = await this.#producer();
    try {
      await slot.producer.sendBatch({ topicMessages: [...batch], acks: -1 });
    } catch (error) {
      if (isRetriableKafkaError(error)) this.#retireProducer(slot);
      throw error;
    }
  }

  member(settings: MemberSettings, events: MemberEvents): GroupMember {
    return new KafkaJsMember(this.#consumer(settings), settings, events);
  }

  async close(): Promise<void> {
    const slot = this.#producerSlot;
    this.#producerSlot = undefined;
    await Promise.allSettled([slot?.producer.disconnect(), this.#admin?.disconnect()]);
  }

  #adminClient(): Admin {
    if (this.#admin === undefined) throw new Error('kafkajs admin used before connect');
    return this.#admin;
  }

  #consumer(settings: MemberSettings): Consumer {
    return this.#kafka.consumer({
      groupId: settings.groupId,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      maxWaitTimeInMs: settings.maxWaitTimeMs,
      allowAutoTopicCreation: false,
    });
  }

  async #producer(): Promise<ProducerSlot> {
    let slot = this.#producerSlot;
    if (slot === undefined) {
      const producer = this.#kafka.producer({
        idempotent: true,
        allowAutoTopicCreation: false,
        createPartitioner: StablePartitioner,
        retry: { retries: this.#options.publishRetries },
      });
      const created: ProducerSlot = { producer, connected: producer.connect() };
      slot = created;
      this.#producerSlot = created;
      created.connected.catch(() => this.#retireProducer(created));
    }
    await slot.connected;
    return slot;
  }

  #retireProducer(slot: ProducerSlot): void {
    if (this.#producerSlot !== slot) return;
    this.#producerSlot = undefined;
    void slot.producer.disconnect().catch(() => undefined);
  }
}

/**
 * A kafkajs consumer as a group member: `eachBatch` hands every fetched batch over (kafkajs fetches that
 * partition again once it returns), GROUP_JOIN, REBALANCING and CRASH become the member's events.
 * kafkajs has no revoke callback: REBALANCING is the only notice a rebalance gives.
 */
class KafkaJsMember implements GroupMember {
  constructor(
    private readonly consumer: Consumer,
    private readonly settings: MemberSettings,
    private readonly events: MemberEvents,
  ) {}

  async run(): Promise<void> {
    const { consumer, events } = this;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      const assignment = new Map<string, number[]>();
      const assigned = event.payload.memberAssignment;
      for (const topic of Object.keys(assigned)) assignment.set(topic, assigned[topic]!);
      events.joined(event.payload.memberId, assignment);
    });
    consumer.on(consumer.events.REBALANCING, () => events.rebalancing());
    consumer.on(consumer.events.CRASH, (event) => events.crashed(event.payload.error, event.payload.restart));
    await consumer.connect();
    // A group without committed offsets starts at the beginning: its topics were created empty when it
    // was provisioned, or provisioning set its offsets to the end of an existing channel.
    await consumer.subscribe({ topics: [...this.settings.topics], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: 1,
      eachBatch: async (payload) => {
        if (payload.isStale()) return;
        const batch = payload.batch;
        const records = batch.messages.map((message) => ({
          key: message.key,
          value: message.value,
          headers: message.headers,
          offset: Number(message.offset),
        }));
        await events.fetched(batch.topic, batch.partition, records, Number(batch.lastOffset()));
      },
    });
  }

  pause(topic: string, partition: number): void {
    this.#quietly(() => this.consumer.pause([{ topic, partitions: [partition] }]));
  }

  resume(topic: string, partition: number): void {
    this.#quietly(() => this.consumer.resume([{ topic, partitions: [partition] }]));
  }

  seek(topic: string, partition: number, offset: number): void {
    this.#quietly(() => this.consumer.seek({ topic, partition, offset: String(offset) }));
  }

  stopFetching(): void {
    this.#quietly(() => this.consumer.pause(this.settings.topics.map((topic) => ({ topic }))));
  }

  commit(offsets: readonly OffsetCommit[]): Promise<void> {
    return this.consumer.commitOffsets(
      offsets.map(({ topic, partition, offset, metadata }) => ({
        topic,
        partition,
        offset: String(offset),
        metadata,
      })),
    );
  }

  disconnect(): Promise<void> {
    return this.consumer.disconnect();
  }

  /** kafkajs throws from pause/resume/seek while not running (crashed, stopping): nothing is fetched then. */
  #quietly(act: () => void): void {
    try {
      act();
    } catch {
      // not running: the next join resumes and positions every partition
    }
  }
}
