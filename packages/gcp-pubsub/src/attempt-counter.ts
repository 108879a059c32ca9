/**
 * Counts deliveries per message id, for subscriptions whose server does not report `deliveryAttempt`
 * (no dead-letter policy). The count lives in this process: a message redelivered to another process
 * starts again at 1 there. Bounded: past `capacity` ids, the oldest are forgotten (they count from 1 again).
 */
export class AttemptCounter {
  readonly #counts = new Map<string, number>();

  constructor(readonly capacity = 10_000) {}

  /** Records one more delivery of `messageId` and returns its number (1 on the first). */
  next(messageId: string): number {
    const attempt = (this.#counts.get(messageId) ?? 0) + 1;
    this.#counts.delete(messageId); // re-inserted last: the map's order is least recently seen first
    this.#counts.set(messageId, attempt);
    if (this.#counts.size > this.capacity) {
      const oldest = this.#counts.keys().next().value;
      if (oldest !== undefined) this.#counts.delete(oldest);
    }
    return attempt;
  }

  /** The message is settled for good (acked or dead-lettered): nothing more to count. */
  forget(messageId: string): void {
    this.#counts.delete(messageId);
  }

  get size(): number {
    return this.#counts.size;
  }
}
