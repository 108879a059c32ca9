import type { Channel, ConsumeMessage } from 'amqplib';

/**
 * Acknowledges the deliveries of one channel in as few frames as it safely can. Acks requested in one
 * turn of the event loop are sent together at the end of it: the longest run of settled deliveries at
 * the front of the outstanding ones as a single `basic.ack` with `multiple`, any others one by one. Each
 * frame is a socket write for us and a queue command for the broker, so under load this saves most of
 * them; the delay is one turn of the loop, and a delivery whose ack was not sent yet when the channel
 * closes is redelivered (at-least-once, as for any unacked message).
 *
 * A tag is never acked twice and `multiple` never covers a tag that was not settled, so RabbitMQ has no
 * reason to close the channel (PRECONDITION_FAILED, unknown delivery tag).
 */
export class AckBatcher {
  readonly #channel: Channel;
  /** Delivered and not yet acked or nacked, in delivery-tag order (a Map keeps insertion order). */
  readonly #outstanding = new Map<number, ConsumeMessage>();
  #settled = new Set<number>();
  #scheduled = false;
  #closed = false;
  readonly #flush = (): void => this.flush();

  constructor(channel: Channel) {
    this.#channel = channel;
  }

  /** A delivery arrived on the channel. */
  delivered(message: ConsumeMessage): void {
    this.#outstanding.set(message.fields.deliveryTag, message);
  }

  /** Acks `message` at the end of this turn of the event loop. */
  ack(message: ConsumeMessage): void {
    if (this.#closed) return;
    this.#settled.add(message.fields.deliveryTag);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** Returns `message` to its queue now. */
  requeue(message: ConsumeMessage): void {
    if (this.#closed) return;
    const tag = message.fields.deliveryTag;
    if (!this.#outstanding.delete(tag)) return;
    this.#settled.delete(tag);
    try {
      this.#channel.nack(message, false, true);
    } catch {
      // The channel is closing: the broker requeues it anyway.
    }
  }

  /** Sends the acks requested so far. */
  flush(): void {
    this.#scheduled = false;
    const settled = this.#settled;
    if (this.#closed || settled.size === 0) return;
    this.#settled = new Set();
    let top: ConsumeMessage | undefined;
    let front = true;
    const singles: ConsumeMessage[] = [];
    let remaining = settled.size;
    for (const [tag, message] of this.#outstanding) {
      if (remaining === 0) break;
      if (settled.has(tag)) {
        remaining--;
        if (front) top = message;
        else singles.push(message);
      } else {
        front = false;
      }
    }
    for (const tag of settled) this.#outstanding.delete(tag);
    try {
      if (top !== undefined) this.#channel.ack(top, true);
      for (const message of singles) this.#channel.ack(message, false);
    } catch {
      // The channel is closing: the broker requeues what it did not get an ack for.
    }
  }

  /** The channel is gone: nothing more can be acked on it. */
  close(): void {
    this.#closed = true;
    this.#settled.clear();
    this.#outstanding.clear();
  }
}
