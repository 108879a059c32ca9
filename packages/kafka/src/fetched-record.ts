import type { Envelope } from '@omnibus/core';
import type { TrackedRecord } from './partition-tracker.js';
import type { DecodeRules, RawRecord } from './kafka-codec.js';
import { fromKafkaRecord } from './kafka-codec.js';

/** A fetched record, decoded once, as the partition tracker and the deliveries see it. */
export interface FetchedRecord extends TrackedRecord {
  readonly raw: RawRecord;
  readonly envelope: Envelope;
  readonly attempt: number;
  readonly receivedAt: Date;
  /** Why the record goes to the dead-letter topic without reaching the sink (see `DecodedRecord`). */
  readonly refused: string | undefined;
}

export function toFetchedRecord(
  raw: RawRecord,
  offset: number,
  receivedAt: Date,
  rules: DecodeRules,
): FetchedRecord {
  const { envelope, attempt, dueAt, refused } = fromKafkaRecord(raw, rules);
  // Headers are counted roughly: the limit is about memory, not exact wire size.
  const bytes = (raw.value?.byteLength ?? 0) + (raw.key?.byteLength ?? 0) + 128;
  return { offset, key: envelope.key, dueAt, bytes, raw, envelope, attempt, receivedAt, refused };
}
