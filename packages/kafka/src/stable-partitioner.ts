import type { ICustomPartitioner, Message } from 'kafkajs';
import { Partitioners } from 'kafkajs';

/**
 * Java's partitioner (murmur2 of the key, so producers in other languages put a key where we do), with
 * one fix for the idempotent producer: a message without a key keeps the partition it was first given.
 * kafkajs partitions again when it retries a send, and round-robin would then move keyless messages to
 * other partitions than the sequence numbers were counted for: the broker answers "out of order
 * sequence number" for good.
 */
export const StablePartitioner: ICustomPartitioner = () => {
  const java = Partitioners.DefaultPartitioner();
  const chosen = new WeakMap<Message, number>();
  return (args) => {
    const message = args.message;
    if (message.partition !== undefined || (message.key !== null && message.key !== undefined))
      return java(args);
    let partition = chosen.get(message);
    if (partition === undefined) {
      partition = java(args);
      chosen.set(message, partition);
    }
    return partition;
  };
};
