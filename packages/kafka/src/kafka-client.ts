import type { RawRecord } from './kafka-codec.js';
import type { TopicRecords } from './produce-queue.js';

/** Which Kafka client library the transport runs on. */
export type KafkaClientName = 'kafkajs' | 'platformatic';

export interface PartitionOffset {
  readonly partition: number;
  readonly offset: number;
}

/** A consumer group's committed position on one partition; `offset` is -1 when nothing is committed. */
export interface CommittedOffset extends PartitionOffset {
  readonly metadata: string | null;
}

/** One partition's commit, as a group member sends it. */
export interface OffsetCommit {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** The settled offsets after `offset` (see `settled-offsets.ts`); null for none. */
  readonly metadata: string | null;
}

/** What creating a topic sets. */
export interface TopicSettings {
  readonly partitions: number;
  readonly replicationFactor: number | undefined;
  readonly maxMessageBytes: number;
}

/** A fetched record in the shape both clients give it. */
export interface FetchedRaw extends RawRecord {
  readonly offset: number;
}

/** Consumer group settings, from `KafkaConsumerOptions`. */
export interface MemberSettings {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly maxWaitTimeMs: number;
  readonly rebalancing: 'eager' | 'cooperative';
}

/** What a group member tells its consumer. Handlers must not throw (the consumer guards them). */
export interface MemberEvents {
  /** The member (re)joined the group with this assignment: topic → partitions. */
  joined(memberId: string, assignment: ReadonlyMap<string, readonly number[]>): void;
  /** A rebalance started: stop handing out, commit what is settled. */
  rebalancing(): void;
  /**
   * The client gave up on this member; `restarting` when the client starts it again by itself. When
   * not, the consumer starts a new member.
   */
  crashed(error: Error, restarting: boolean): void;
  /**
   * Records of one partition, in offset order. `lastOffset` may lie past the last record (transaction
   * markers). The client does not fetch that partition again before the returned promise settles.
   */
  fetched(topic: string, partition: number, records: FetchedRaw[], lastOffset: number): Promise<void> | void;
}

/**
 * One membership of a consumer group. `pause`/`resume` stop and restart fetching from a partition (a
 * client that can only pause every partition at once does that while any is paused); `seek` moves
 * where fetching continues after a rejoin (a client that refetches from the committed offset instead
 * may ignore it: the tracker drops records it already has).
 */
export interface GroupMember {
  /** Joins and starts fetching; resolves once running (the assignment comes by `joined`). */
  run(): Promise<void>;
  pause(topic: string, partition: number): void;
  resume(topic: string, partition: number): void;
  seek(topic: string, partition: number, offset: number): void;
  /** Fetches nothing more (closing). */
  stopFetching(): void;
  commit(offsets: readonly OffsetCommit[]): Promise<void>;
  /** Leaves the group and closes the member's connections. */
  disconnect(): Promise<void>;
}

/**
 * The Kafka client behind the transport: admin requests, the idempotent producer and group members.
 * Everything else (names, codec, provisioning rules, partition tracking, commits, retry topics) is the
 * transport's own and the same whichever client runs. Errors are thrown as the client throws them;
 * `toTransportError` (kafka-errors.ts) reads both clients' errors.
 */
export interface KafkaClient {
  readonly name: KafkaClientName;
  /** Connects the admin connection. */
  connect(): Promise<void>;
  listTopics(): Promise<string[]>;
  /** Creates topics; one that exists already is not an error. */
  createTopics(topics: readonly string[], settings: TopicSettings): Promise<void>;
  /** Whether every partition of every topic has a leader. */
  haveLeaders(topics: readonly string[]): Promise<boolean>;
  committedOffsets(groupId: string, topic: string): Promise<CommittedOffset[]>;
  hasMembers(groupId: string): Promise<boolean>;
  endOffsets(topic: string): Promise<PartitionOffset[]>;
  /** Commits offsets for a group without members (a new subscription's starting point). */
  commitForEmptyGroup(groupId: string, topic: string, offsets: readonly PartitionOffset[]): Promise<void>;
  brokerCount(): Promise<number>;
  /**
   * Sends with the idempotent producer, `acks: -1`: resolves once every in-sync replica has the
   * records. After a send whose outcome is unknown the producer is replaced (a new producer id), so a
   * later send never reuses sequence numbers the broker may have seen.
   */
  send(batch: readonly TopicRecords[]): Promise<void>;
  member(settings: MemberSettings, events: MemberEvents): GroupMember;
  close(): Promise<void>;
}
