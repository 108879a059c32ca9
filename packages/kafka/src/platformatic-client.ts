import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { Message, MessagesStream, SASLOptions } from '@platformatic/kafka';
import { Admin, ConnectionPool, Consumer, Producer, murmur2, offsetCommitV8 } from '@platformatic/kafka';
import type {
  CommittedOffset,
  FetchedRaw,
  GroupMember,
  KafkaClient,
  MemberEvents,
  MemberSettings,
  OffsetCommit,
  PartitionOffset,
  TopicSettings,
} from './kafka-client.js';
import { isRetriableKafkaError } from './kafka-errors.js';
import type { ResolvedKafkaOptions } from './kafka-options.js';
import type { TopicRecords } from './produce-queue.js';

type Bytes = Buffer | undefined;
type Serializable = string | Buffer | null | undefined;

/** Strings become UTF-8 bytes; the transport hands over strings and Buffers only. */
const toBytes = (value?: Serializable): Bytes =>
  value === null || value === undefined ? undefined : typeof value === 'string' ? Buffer.from(value) : value;
const serializers = { key: toBytes, value: toBytes, headerKey: toBytes, headerValue: toBytes };

const SASL_MECHANISMS = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
} as const;

/** The options every @platformatic/kafka client of the transport shares. */
function baseOptions(options: ResolvedKafkaOptions): {
  clientId: string;
  bootstrapBrokers: string[];
  tls?: TlsConnectionOptions;
  sasl?: SASLOptions;
} {
  const { brokers, clientId, ssl, sasl } = options;
  return {
    clientId,
    bootstrapBrokers: [...brokers],
    ...(ssl === undefined || ssl === false ? {} : { tls: ssl === true ? {} : ssl }),
    ...(sasl === undefined
      ? {}
      : {
          sasl: {
            mechanism: SASL_MECHANISMS[sasl.mechanism],
            username: sasl.username,
            password: sasl.password,
          },
        }),
  };
}

/** The transport's client on @platformatic/kafka (pure JavaScript, maintained, Kafka 3.5–4.2). */
export class PlatformaticClient implements KafkaClient {
  readonly name = 'platformatic';
  readonly #options: ResolvedKafkaOptions;
  readonly #admin: Admin;
  #producer: Producer<string | Buffer, Buffer, string, string | Buffer> | undefined;
  /** Keyless records go round-robin, per topic; the partition is chosen once, before any retry. */
  readonly #roundRobin = new Map<string, number>();

  constructor(options: ResolvedKafkaOptions) {
    this.#options = options;
    this.#admin = new Admin({ ...baseOptions(options), autocreateTopics: false });
  }

  async connect(): Promise<void> {
    await this.#admin.metadata({ topics: [] });
    this.#producerClient();
  }

  listTopics(): Promise<string[]> {
    return this.#admin.listTopics();
  }

  async createTopics(topics: readonly string[], settings: TopicSettings): Promise<void> {
    try {
      await this.#admin.createTopics({
        topics: [...topics],
        partitions: settings.partitions,
        replicas: settings.replicationFactor ?? -1,
        configs: [{ name: 'max.message.bytes', value: String(settings.maxMessageBytes) }],
      });
    } catch (error) {
      // Created meanwhile by another process: as good as created.
      if (!onlyErrors(error, 'TOPIC_ALREADY_EXISTS')) throw error;
    }
  }

  async haveLeaders(topics: readonly string[]): Promise<boolean> {
    const metadata = await this.#admin.metadata({ topics: [...topics], forceUpdate: true });
    return topics.every((name) => {
      const topic = metadata.topics.get(name);
      return (
        topic !== undefined && topic.partitions.length > 0 && topic.partitions.every((p) => p.leader >= 0)
      );
    });
  }

  async committedOffsets(groupId: string, topic: string): Promise<CommittedOffset[]> {
    const [group] = await this.#admin.listConsumerGroupOffsets({ groups: [groupId] });
    const found = group?.topics.find((t) => t.name === topic);
    return (found?.partitions ?? []).map((p) => ({
      partition: p.partitionIndex,
      offset: Number(p.committedOffset),
      metadata: p.metadata ?? null,
    }));
  }

  async hasMembers(groupId: string): Promise<boolean> {
    const groups = await this.#admin.describeGroups({ groups: [groupId] });
    return (groups.get(groupId)?.members.size ?? 0) > 0;
  }

  async endOffsets(topic: string): Promise<PartitionOffset[]> {
    const metadata = await this.#admin.metadata({ topics: [topic] });
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    const partitions = Array.from({ length: count }, (_, partitionIndex) => ({
      partitionIndex,
      timestamp: -1n,
    }));
    const [listed] = await this.#admin.listOffsets({ topics: [{ name: topic, partitions }] });
    return (listed?.partitions ?? []).map((p) => ({ partition: p.partitionIndex, offset: Number(p.offset) }));
  }

  commitForEmptyGroup(groupId: string, topic: string, offsets: readonly PartitionOffset[]): Promise<void> {
    return this.#admin.alterConsumerGroupOffsets({
      groupId,
      topics: [
        {
          name: topic,
          partitionOffsets: offsets.map(({ partition, offset }) => ({ partition, offset: BigInt(offset) })),
        },
      ],
    });
  }

  async brokerCount(): Promise<number> {
    return (await this.#admin.metadata({ topics: [], forceUpdate: true })).brokers.size;
  }

  async send(batch: readonly TopicRecords[]): Promise<void> {
    const producer = this.#producerClient();
    const messages = [];
    for (const { topic, messages: records } of batch) {
      for (const record of records) {
        messages.push({
          topic,
          key: record.key ?? undefined,
          value: record.value ?? undefined,
          headers: record.headers,
          ...(record.key === null ? { partition: this.#nextPartition(topic) } : {}),
        });
      }
    }
    try {
      await producer.send({ messages });
    } catch (error) {
      if (isRetriableKafkaError(error) && this.#producer === producer) {
        this.#producer = undefined;
        void producer.close().catch(() => undefined);
      }
      throw error;
    }
  }

  member(settings: MemberSettings, events: MemberEvents): GroupMember {
    return new PlatformaticMember(this.#options, settings, events);
  }

  async close(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    await Promise.allSettled([producer?.close(), this.#admin.close()]);
  }

  #producerClient(): Producer<string | Buffer, Buffer, string, string | Buffer> {
    this.#producer ??= new Producer({
      ...baseOptions(this.#options),
      idempotent: true,
      acks: -1,
      autocreateTopics: false,
      retries: this.#options.publishRetries,
      serializers,
      // Java's partitioner (murmur2, sign bit cleared), so producers in other languages put a key where we do.
      partitioner: (_message, key) => (key === undefined ? 0 : murmur2(key) & 0x7fffffff),
    }) as unknown as Producer<string | Buffer, Buffer, string, string | Buffer>;
    return this.#producer;
  }

  /** A large counter: the client takes it modulo the partition count. */
  #nextPartition(topic: string): number {
    const next = this.#roundRobin.get(topic) ?? 0;
    this.#roundRobin.set(topic, (next + 1) % 0x7fffffff);
    return next;
  }
}

/** Whether every error inside `error` is the broker error `apiId`. */
function onlyErrors(error: unknown, apiId: string): boolean {
  const nested = (error as { errors?: unknown }).errors;
  if (Array.isArray(nested) && nested.length > 0) return nested.every((inner) => onlyErrors(inner, apiId));
  return (error as { apiId?: unknown }).apiId === apiId;
}

/**
 * kafkajs names its round-robin assignor `RoundRobinAssigner`, this client `roundrobin`; the broker picks
 * a protocol every member offers, so offering both (same assignment, standard metadata) lets members of
 * both clients share a group: an application can switch clients with a rolling restart.
 */
const ROUND_ROBIN_PROTOCOLS = [
  { name: 'RoundRobinAssigner', version: 0 },
  { name: 'roundrobin', version: 1 },
];
/** Incremental rebalancing (KIP-429): the client keeps what it keeps and revokes only what moves. */
const COOPERATIVE_PROTOCOLS = [{ name: 'cooperative-sticky', version: 3 }];

/**
 * A @platformatic/kafka consumer and its message stream as a group member. The stream fetches every
 * assigned partition; it can only be paused as a whole, so it is paused while any partition is. After a
 * rejoin it refetches from the committed offsets, so `seek` has nothing to do: the tracker drops what it
 * already holds. Records arrive one by one and are handed over per partition once per turn.
 *
 * The client's own `commit` writes no metadata, so commits go out as OffsetCommit v8 requests to the
 * group coordinator on a connection of the member's own, with the member's generation: the settled
 * offsets after the first unsettled one travel in the metadata as with kafkajs.
 */
class PlatformaticMember implements GroupMember {
  readonly #consumer: Consumer;
  readonly #commits: ConnectionPool;
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  readonly #paused = new Set<string>();
  #stopped = false;
  readonly #pending = new Map<string, { topic: string; partition: number; records: FetchedRaw[] }>();
  #flushScheduled = false;

  constructor(
    options: ResolvedKafkaOptions,
    private readonly settings: MemberSettings,
    private readonly events: MemberEvents,
  ) {
    this.#consumer = new Consumer({
      ...baseOptions(options),
      groupId: settings.groupId,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      maxWaitTime: settings.maxWaitTimeMs,
      autocreateTopics: false,
      protocols: settings.rebalancing === 'cooperative' ? COOPERATIVE_PROTOCOLS : ROUND_ROBIN_PROTOCOLS,
    });
    const { clientId, tls, sasl } = baseOptions(options);
    this.#commits = new ConnectionPool(clientId, {
      ...(tls === undefined ? {} : { tls }),
      ...(sasl === undefined ? {} : { sasl }),
    });
  }

  async run(): Promise<void> {
    const { events } = this;
    const consumer = this.#consumer;
    consumer.on('consumer:group:join', ({ memberId, assignments }) => {
      const assignment = new Map<string, number[]>();
      for (const { topic, partitions } of assignments ?? []) assignment.set(topic, partitions);
      events.joined(memberId, assignment);
    });
    if (this.settings.rebalancing === 'cooperative') {
      // The client revokes moved partitions (and reports a rebalance) before the round that completes
      // the join: the partitions it still owns go on, the revoked ones are forgotten at once.
      consumer.on('consumer:group:rebalance', () => {
        if (consumer.memberId === null) return;
        const assignment = new Map<string, number[]>();
        for (const { topic, partitions } of consumer.assignments ?? []) assignment.set(topic, partitions);
        events.joined(consumer.memberId, assignment);
      });
    } else {
      consumer.on('consumer:group:rebalance', () => events.rebalancing());
    }
    const stream = await consumer.consume({
      topics: [...this.settings.topics],
      // A group without committed offsets starts at the beginning (see the kafkajs member).
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
      sessionTimeout: this.settings.sessionTimeoutMs,
      heartbeatInterval: this.settings.heartbeatIntervalMs,
      rebalanceTimeout: this.settings.rebalanceTimeoutMs,
      maxWaitTime: this.settings.maxWaitTimeMs,
    });
    this.#stream = stream;
    stream.on('data', (message: Message<Buffer, Buffer, Buffer, Buffer>) => this.#onMessage(message));
    stream.on('error', (error: Error) => {
      if (!this.#stopped) events.crashed(error, false);
    });
  }

  pause(topic: string, partition: number): void {
    this.#paused.add(`${topic}:${partition}`);
    this.#stream?.pause();
  }

  resume(topic: string, partition: number): void {
    this.#paused.delete(`${topic}:${partition}`);
    if (this.#paused.size === 0 && !this.#stopped) this.#stream?.resume();
  }

  seek(): void {
    // refetched from the committed offset after a rejoin; the tracker skips what it has
  }

  stopFetching(): void {
    this.#stopped = true;
    this.#stream?.pause();
  }

  async commit(offsets: readonly OffsetCommit[]): Promise<void> {
    const consumer = this.#consumer;
    const { memberId, generationId } = consumer;
    if (memberId === null) throw new Error('not a member of the group (yet)');
    const coordinator = await consumer.findGroupCoordinator();
    const broker = (await consumer.metadata({ topics: [] })).brokers.get(coordinator);
    if (broker === undefined) throw new Error(`group coordinator ${coordinator} is not in the metadata`);
    const byTopic = new Map<string, offsetCommitV8.OffsetCommitRequestPartition[]>();
    for (const { topic, partition, offset, metadata } of offsets) {
      const partitions = byTopic.get(topic) ?? [];
      partitions.push({
        partitionIndex: partition,
        committedOffset: BigInt(offset),
        committedLeaderEpoch: -1,
        committedMetadata: metadata,
      });
      byTopic.set(topic, partitions);
    }
    const connection = await this.#commits.get(broker);
    await offsetCommitV8.api.async(
      connection,
      this.settings.groupId,
      generationId,
      memberId,
      null,
      [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    );
  }

  async disconnect(): Promise<void> {
    this.#stopped = true;
    await this.#stream?.close().catch(() => undefined);
    await this.#consumer.close(true);
    await this.#commits.close().catch(() => undefined);
  }

  #onMessage(message: Message<Buffer, Buffer, Buffer, Buffer>): void {
    const key = `${message.topic}:${message.partition}`;
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = { topic: message.topic, partition: message.partition, records: [] };
      this.#pending.set(key, pending);
    }
    pending.records.push({
      key: message.key ?? null,
      value: message.value ?? null,
      headers: message.headers,
      offset: Number(message.offset),
    });
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    for (const { topic, partition, records } of this.#pending.values()) {
      void this.events.fetched(topic, partition, records, records[records.length - 1]!.offset);
    }
    this.#pending.clear();
  }
}
