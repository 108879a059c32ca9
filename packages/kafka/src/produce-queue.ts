import type { OutgoingRecord } from './kafka-codec.js';

/** The records of one topic in a send. */
export interface TopicRecords {
  readonly topic: string;
  readonly messages: OutgoingRecord[];
}

/** Bytes a record takes in a record batch beyond its key, value and headers (a generous estimate). */
const RECORD_OVERHEAD_BYTES = 80;
const HEADER_OVERHEAD_BYTES = 8;

interface Pending {
  readonly topic: string;
  readonly messages: OutgoingRecord[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Turns many `publish` calls into few produce requests, the way Kafka's own producer batches: one send
 * is in flight at a time; calls made meanwhile wait and go together in the next send (one request per
 * broker, one record batch per partition). An idle producer sends after the current turn of the event
 * loop, so a burst of calls goes as one request and batching adds no measurable delay.
 *
 * A send never carries more than `maxBatchBytes` (a record batch per partition must stay under the
 * topic's `max.message.bytes`); a larger call is split into several sends, in order. Sends go out in
 * the order of the calls, so messages of one key keep their order across calls too. Each call resolves
 * when all of its messages are acknowledged, and rejects if any send carrying them failed.
 */
export class ProduceQueue {
  readonly #queue: Pending[] = [];
  #sending = false;
  #scheduled = false;

  constructor(
    private readonly send: (batch: TopicRecords[]) => Promise<void>,
    private readonly maxBatchBytes: number,
  ) {}

  enqueue(topic: string, messages: readonly OutgoingRecord[]): Promise<void> {
    const chunks: Promise<void>[] = [];
    let chunk: OutgoingRecord[] = [];
    let bytes = 0;
    for (const message of messages) {
      const size = messageBytes(message);
      if (chunk.length > 0 && bytes + size > this.maxBatchBytes) {
        chunks.push(this.#push(topic, chunk, bytes));
        chunk = [];
        bytes = 0;
      }
      chunk.push(message);
      bytes += size;
    }
    if (chunk.length > 0) chunks.push(this.#push(topic, chunk, bytes));
    // Calls made in the same turn of the event loop (a burst of `bus.publish`) go in one send.
    if (!this.#scheduled && !this.#sending) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#drain();
      });
    }
    return chunks.length === 1 ? chunks[0]! : Promise.all(chunks).then(() => undefined);
  }

  #push(topic: string, messages: OutgoingRecord[], bytes: number): Promise<void> {
    return new Promise((resolve, reject) => this.#queue.push({ topic, messages, bytes, resolve, reject }));
  }

  #drain(): void {
    if (this.#sending || this.#queue.length === 0) return;
    this.#sending = true;
    const batch: Pending[] = [this.#queue.shift()!];
    let bytes = batch[0]!.bytes;
    while (this.#queue.length > 0 && bytes + this.#queue[0]!.bytes <= this.maxBatchBytes) {
      const next = this.#queue.shift()!;
      batch.push(next);
      bytes += next.bytes;
    }
    const byTopic = new Map<string, OutgoingRecord[]>();
    for (const pending of batch) {
      const messages = byTopic.get(pending.topic);
      if (messages === undefined) byTopic.set(pending.topic, [...pending.messages]);
      else messages.push(...pending.messages);
    }
    this.send([...byTopic].map(([topic, messages]) => ({ topic, messages }))).then(
      () => this.#settle(batch, undefined),
      (error: unknown) => this.#settle(batch, error ?? new Error('send failed')),
    );
  }

  #settle(batch: readonly Pending[], error: unknown): void {
    this.#sending = false;
    for (const pending of batch) {
      if (error === undefined) pending.resolve();
      else pending.reject(error);
    }
    this.#drain();
  }
}

function messageBytes(message: OutgoingRecord): number {
  let bytes = RECORD_OVERHEAD_BYTES + length(message.key) + length(message.value);
  const headers = message.headers;
  for (const name of Object.keys(headers))
    bytes += HEADER_OVERHEAD_BYTES + name.length + length(headers[name]);
  return bytes;
}

function length(value: Buffer | string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength;
}
