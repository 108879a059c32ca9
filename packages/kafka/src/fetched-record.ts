import type { Envelope } from '@omnibus/core';
import type { KafkaMessage } from 'kafkajs';
import type { TrackedRecord } from './partition-tracker.js';
import { fromKafkaRecord } from './record-codec.js';

/** A fetched record, decoded once, as the partition tracker and the deliveries see it. */
export interface FetchedRecord extends TrackedRecord {
  readonly raw: KafkaMessage;
  readonly envelope: Envelope;
  readonly attempt: number;
  readonly receivedAt: Date;
}

export function toFetchedRecord(raw: KafkaMessage, receivedAt: Date): FetchedRecord {
  const { envelope, attempt, dueAt } = fromKafkaRecord(raw);
  return { offset: Number(raw.offset), key: envelope.key, dueAt, raw, envelope, attempt, receivedAt };
}
