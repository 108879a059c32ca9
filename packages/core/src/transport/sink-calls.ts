import { DONE } from '../done.js';
import type { Delivery, DeliverySink } from '../transport.js';

/**
 * The sink calls of one consumer that have not returned yet, so `close` can wait for them. A sink that
 * throws or rejects leaves its delivery unsettled (released for redelivery on close): that must not take
 * the consumer down, so `call` never throws and never rejects; the error goes to `onSinkError` (the bus's
 * sink never fails; a raw sink that does is reported, not dropped). No closure or promise per call on the
 * hot path: two bound functions end every call. `onReturned`, when given, runs after each call ends (a
 * consumer whose concurrency counts sink calls hands out the next delivery there).
 */
export class SinkCalls {
  readonly #onSinkError: ((error: unknown) => void) | undefined;
  readonly #onReturned: (() => void) | undefined;
  #running = 0;
  #idle: (() => void) | undefined;
  #whenIdle: Promise<void> | undefined;

  constructor(onSinkError?: (error: unknown) => void, onReturned?: () => void) {
    this.#onSinkError = onSinkError;
    this.#onReturned = onReturned;
  }

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
    } catch (error) {
      this.#threw(error);
      return;
    }
    returned.then(this.#returned, this.#threw);
  }

  /** Resolves once no sink call is running: `DONE` itself when none is (callers may test by identity). */
  whenIdle(): Promise<void> {
    if (this.#running === 0) return DONE;
    this.#whenIdle ??= new Promise<void>((resolve) => (this.#idle = resolve));
    return this.#whenIdle;
  }

  readonly #threw = (error: unknown): void => {
    this.#onSinkError?.(error);
    this.#returned();
  };

  readonly #returned = (): void => {
    if (--this.#running === 0) {
      const idle = this.#idle;
      this.#idle = undefined;
      this.#whenIdle = undefined;
      idle?.();
    }
    this.#onReturned?.();
  };
}
