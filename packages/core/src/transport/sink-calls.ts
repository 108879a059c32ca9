import { DONE } from '../done.js';
import type { Delivery, DeliverySink } from '../transport.js';

/**
 * The sink calls of one consumer that have not returned yet, so `close` can wait for them. A sink that
 * throws or rejects leaves its delivery unsettled (released for redelivery on close): that must not take
 * the consumer down, so `call` never throws and never rejects. No closure or promise per call on the hot
 * path: one bound function ends every call.
 */
export class SinkCalls {
  #running = 0;
  #idle: (() => void) | undefined;
  #whenIdle: Promise<void> | undefined;

  /** How many sink calls are running. */
  get size(): number {
    return this.#running;
  }

  /** Hands `delivery` to `sink`, counted until the promise it returns settles. */
  call(sink: DeliverySink, delivery: Delivery): void {
    this.#running++;
    let returned: Promise<void>;
    try {
      returned = sink(delivery);
    } catch {
      this.#returned();
      return;
    }
    returned.then(this.#returned, this.#returned);
  }

  /** Resolves once no sink call is running: `DONE` itself when none is (callers may test by identity). */
  whenIdle(): Promise<void> {
    if (this.#running === 0) return DONE;
    this.#whenIdle ??= new Promise<void>((resolve) => (this.#idle = resolve));
    return this.#whenIdle;
  }

  readonly #returned = (): void => {
    if (--this.#running > 0) return;
    const idle = this.#idle;
    this.#idle = undefined;
    this.#whenIdle = undefined;
    idle?.();
  };
}
