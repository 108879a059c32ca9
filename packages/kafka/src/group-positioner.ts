import type { Kafka } from 'kafkajs';
import type { ResolvedKafkaOptions } from './kafka-options.js';

export interface PartitionOffset {
  readonly partition: number;
  readonly offset: string;
}

/**
 * Commits offsets for a consumer group that has no members, by joining it briefly: kafkajs offers no
 * commit outside a group membership (its `admin.setOffsets` does the same, but waits out a full 5 s
 * fetch). Used once per new subscription, so that the group starts where it was provisioned.
 */
export async function commitAsNewMember(
  kafka: Kafka,
  options: ResolvedKafkaOptions,
  groupId: string,
  topic: string,
  offsets: readonly PartitionOffset[],
): Promise<void> {
  const settings = options.consumer;
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: settings.sessionTimeoutMs,
    heartbeatInterval: settings.heartbeatIntervalMs,
    rebalanceTimeout: settings.rebalanceTimeoutMs,
    maxWaitTimeInMs: settings.maxWaitTimeMs,
    allowAutoTopicCreation: false,
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    // Nothing is read: the partitions are paused as soon as they are assigned.
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => undefined });
    consumer.pause([{ topic }]);
    await consumer.commitOffsets(offsets.map(({ partition, offset }) => ({ topic, partition, offset })));
  } finally {
    await consumer.disconnect();
  }
}
