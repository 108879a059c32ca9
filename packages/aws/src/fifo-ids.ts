import { createHash, randomUUID } from 'node:crypto';
import type { Envelope } from '@omnibus/core';

/** FIFO message group and deduplication ids: 1–128 characters, letters, digits and ASCII punctuation. */
const FIFO_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * The FIFO message group of an envelope: its key, so one key's messages are delivered in order and
 * different keys in parallel; a keyless message gets its own id (no order to keep, full parallelism).
 * A value SQS would refuse is replaced by its SHA-256 (same key, same group).
 */
export function messageGroupId(envelope: Envelope): string {
  return fifoSafe(envelope.key ?? envelope.id);
}

/** A FIFO deduplication id from the message id: a publish retried within 5 minutes is stored once. */
export function deduplicationId(messageId: string): string {
  return fifoSafe(messageId);
}

function fifoSafe(value: string): string {
  return FIFO_ID.test(value) ? value : createHash('sha256').update(value).digest('hex');
}

/**
 * Ids of dead letters this transport has read, so that publishing one of them again (a replay) is not
 * taken for a duplicate: SQS and SNS FIFO drop a message whose deduplication id they saw in the last
 * 5 minutes, and a replay keeps the message id. A replayed message gets a fresh deduplication id once.
 * Bounded: the oldest ids are forgotten first.
 */
export class DeadLetterReads {
  readonly #ids = new Map<string, true>();

  constructor(readonly capacity = 10_000) {}

  noteRead(messageId: string): void {
    this.#ids.delete(messageId);
    this.#ids.set(messageId, true);
    if (this.#ids.size > this.capacity) this.#ids.delete(this.#ids.keys().next().value!);
  }

  /** The deduplication id to publish `messageId` with: a fresh one when it is a dead letter read here. */
  deduplicationIdFor(messageId: string): string {
    if (!this.#ids.delete(messageId)) return deduplicationId(messageId);
    return createHash('sha256').update(`${messageId}\u0000replay\u0000${randomUUID()}`).digest('hex');
  }
}
