import type { Kafka } from 'kafkajs';

/**
 * kafkajs's own wait gives up on a KRaft broker's brief UNKNOWN_TOPIC_OR_PARTITION after creation, and
 * an idempotent send that meets NOT_LEADER there ends in OUT_OF_ORDER_SEQUENCE_NUMBER (kafkajs moves
 * keyless messages to other partitions on retry): wait until every leader of `topic`'s `partitions`
 * answers a ListOffsets, through a connected `admin`.
 */
export async function waitForLeaders(
  admin: ReturnType<Kafka['admin']>,
  topic: string,
  partitions: number,
): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ready = await admin
      .fetchTopicOffsets(topic)
      .then((offsets) => offsets.length === partitions)
      .catch(() => false);
    if (ready) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no leaders for ${topic}`);
}
