import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { CircuitOpenError, ConfigurationError } from '../errors.js';
import { isConflict } from '../failure-policy.js';
import type { Consumer } from '../transport.js';
import type { Middleware } from './middleware.js';

export interface CircuitBreakerOptions {
  /** Consecutive failed attempts that open the circuit. Default 10. */
  readonly failureThreshold?: number;
  /** How long the circuit stays open before one probe is let through. Default 30 s. */
  readonly cooldownMs?: number;
  readonly clock?: Clock;
  /** Called on every state change (for logs and metrics). */
  readonly onStateChange?: (state: CircuitState) => void;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * A consumer circuit breaker: after `failureThreshold` consecutive failures the consumer is paused (no
 * new deliveries) and deliveries already in hand fail fast with `CircuitOpenError` (retriable, so they
 * come back later). After `cooldownMs` the consumer resumes and lets one probe through: success closes
 * the circuit, failure opens it again. An optimistic-concurrency conflict (`ConcurrencyError`, rerun by
 * the bus) counts as neither. One breaker guards one consumer.
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #clock: Clock;
  readonly #onStateChange: ((state: CircuitState) => void) | undefined;
  #state: CircuitState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #probing = false;
  #timer: NodeJS.Timeout | undefined;
  #consumer: Consumer | undefined;

  constructor(options: CircuitBreakerOptions = {}) {
    this.#threshold = options.failureThreshold ?? 10;
    this.#cooldownMs = options.cooldownMs ?? 30_000;
    if (!Number.isInteger(this.#threshold) || this.#threshold < 1) {
      throw new ConfigurationError('circuitBreaker.failureThreshold', 'must be a positive integer');
    }
    if (!(this.#cooldownMs >= 0)) throw new ConfigurationError('circuitBreaker.cooldownMs', 'must be >= 0');
    this.#clock = options.clock ?? systemClock;
    this.#onStateChange = options.onStateChange;
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** The consumer to pause while open; set once the bus has started it. */
  attach(consumer: Consumer): void {
    this.#consumer = consumer;
  }

  readonly middleware: Middleware = async (_ctx, next) => {
    if (this.#state === 'open') {
      if (this.#clock.now() - this.#openedAt < this.#cooldownMs) throw this.#openError();
      this.#setState('half-open');
    }
    if (this.#state === 'half-open') {
      if (this.#probing) throw this.#openError();
      this.#probing = true;
    }
    try {
      await next();
      this.#failures = 0;
      if (this.#state !== 'closed') this.#setState('closed');
    } catch (error) {
      // A lost optimistic-concurrency race says nothing about what the circuit guards: the handling
      // runs again with fresh state. Neither a failure nor a success (a half-open probe stays one).
      if (isConflict(error)) throw error;
      this.#failures++;
      if (this.#state === 'half-open' || this.#failures >= this.#threshold) this.#open();
      throw error;
    } finally {
      this.#probing = false;
    }
  };

  dispose(): void {
    clearTimeout(this.#timer);
  }

  #open(): void {
    this.#openedAt = this.#clock.now();
    this.#setState('open');
    this.#consumer?.pause();
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      // Resume so a probe can arrive; the middleware lets exactly one through.
      this.#consumer?.resume();
    }, this.#cooldownMs);
  }

  #setState(state: CircuitState): void {
    this.#state = state;
    if (state === 'closed') this.#consumer?.resume();
    this.#onStateChange?.(state);
  }

  #openError(): CircuitOpenError {
    return new CircuitOpenError(`circuit open after ${this.#failures} consecutive failures`);
  }
}
