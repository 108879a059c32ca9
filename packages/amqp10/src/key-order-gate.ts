/**
 * Per-key order inside one consumer: while a delivery of a key is in flight (handed to the sink and not
 * settled), later deliveries of that key are parked, in arrival order; settling the one in flight lets
 * the next go. Deliveries without a key pass straight through. Keys in flight run in parallel.
 */
export class KeyOrderGate<T> {
  readonly #inFlight = new Set<string>();
  readonly #parked = new Map<string, T[]>();

  /** True when `item` may go now (and its key is now in flight); false when it was parked. */
  admit(key: string | undefined, item: T): boolean {
    if (key === undefined) return true;
    if (!this.#inFlight.has(key)) {
      this.#inFlight.add(key);
      return true;
    }
    const parked = this.#parked.get(key);
    if (parked === undefined) this.#parked.set(key, [item]);
    else parked.push(item);
    return false;
  }

  /** The delivery of `key` in flight is settled: returns the next parked item of that key, now in flight. */
  release(key: string | undefined): T | undefined {
    if (key === undefined) return undefined;
    const parked = this.#parked.get(key);
    if (parked === undefined) {
      this.#inFlight.delete(key);
      return undefined;
    }
    const next = parked.shift()!;
    if (parked.length === 0) this.#parked.delete(key);
    return next;
  }
}
