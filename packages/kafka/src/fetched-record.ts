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
  // Headers are counted roughly: the limit is about memory, not exact wire size.
  const bytes = (raw.value?.byteLength ?? 0) + (raw.key?.byteLength ?? 0) + 128;
  return { offset: Number(raw.offset), key: envelope.key, dueAt, bytes, raw, envelope, attempt, receivedAt };
}
