import type { Backoff } from './backoff.js';
import type { RetryPolicy } from './decorators.js';
import type { OmnibusError } from './errors.js';
import {
  CircuitOpenError,
  ConcurrencyError,
  NonRetriableError,
  PersistenceUnavailableError,
  toOmnibusError,
} from './errors.js';

/** A handler's retry policy with every default filled in. */
export type ResolvedRetryPolicy = Required<RetryPolicy>;

/** How far a failed handling of one message has got. */
export interface FailedAttempt {
  /** The broker's delivery count: 1 on the first delivery. */
  readonly delivery: number;
  /** Tries at handling the message in earlier deliveries (see `triesBefore`). */
  readonly before: number;
  /** Handler calls in this delivery (immediate retries included); 0 if it failed before its handler. */
  readonly calls: number;
}

/** What the bus does with a failed handling. */
export type FailureOutcome =
  /** Hand the delivery back for redelivery after `delayMs`; `tries` is what the next delivery starts from. */
  | { readonly kind: 'retry'; readonly delayMs: number; readonly tries: number }
  /** Move it to the dead-letter queue with `error` as the reason, after `attempts` tries. */
  | { readonly kind: 'deadLetter'; readonly error: OmnibusError; readonly attempts: number };

export interface FailurePolicyOptions {
  /** The circuit breaker's cool-down: a delivery refused by an open circuit comes back after it. */
  readonly circuitCooldownMs: number;
}

/**
 * The decision after a failed handling, as a pure function of the error, how far the message has got
 * and the handler's policy. `policy.attempts` counts tries: each handler call (immediate retries
 * included) is one, and so is a delivery that failed before its handler could be called. Then
 * a retriable failure is redelivered while tries are left, anything else is dead-lettered, and the dead
 * letter reports the tries made. Two failures are not the message's fault and spend no tries: an open
 * circuit (retried after the cool-down) and an unavailable database (retried with backoff for as long
 * as the outage lasts), so neither dead-letters anything by itself.
 */
export function failureOutcome(
  thrown: unknown,
  attempt: FailedAttempt,
  policy: ResolvedRetryPolicy,
  options: FailurePolicyOptions,
): FailureOutcome {
  const error = toOmnibusError(thrown);
  if (error instanceof CircuitOpenError) {
    return { kind: 'retry', delayMs: options.circuitCooldownMs, tries: attempt.before + attempt.calls };
  }
  if (error instanceof PersistenceUnavailableError) {
    return {
      kind: 'retry',
      delayMs: policy.backoff(Math.min(attempt.delivery, policy.attempts)),
      tries: attempt.before + attempt.calls,
    };
  }
  // A delivery that failed before its handler (a decoder that failed) is one try.
  const tries = attempt.before + Math.max(1, attempt.calls);
  if (error.retriable && tries < policy.attempts) {
    return { kind: 'retry', delayMs: policy.backoff(attempt.delivery), tries };
  }
  return { kind: 'deadLetter', error, attempts: tries };
}

/**
 * Tries a message has had before this delivery. `known` is what this process remembers from its own
 * earlier deliveries; without it (another instance had them, or this one restarted) every earlier
 * delivery is taken to have used all its tries (1 + `immediate`), leaving this delivery at least one.
 */
export function triesBefore(
  delivery: number,
  known: number | undefined,
  policy: ResolvedRetryPolicy,
): number {
  if (delivery <= 1) return 0;
  if (known !== undefined) return known;
  return Math.min(policy.attempts - 1, (delivery - 1) * (1 + policy.immediate));
}

/** How a handling that lost an optimistic-concurrency update (`CONCURRENCY_CONFLICT`) is run again. */
export interface ConflictPolicy {
  /** Conflicts in a row after which the message is dead-lettered (a livelock). */
  readonly maxRetries: number;
  /** Delay before run `conflicts + 1`, jittered so racing handlings spread out. */
  readonly backoff: Backoff;
}

export type ConflictOutcome =
  | { readonly kind: 'rerun'; readonly delayMs: number }
  | { readonly kind: 'giveUp'; readonly error: OmnibusError };

/**
 * After the `conflicts`-th conflict in a row of one delivery: run the handler again, in the same
 * delivery and with fresh state (a new transaction re-reads what changed), spending no try; or, past
 * `maxRetries`, give up with a non-retriable error so a livelock ends in the dead-letter queue.
 */
export function conflictOutcome(conflicts: number, thrown: unknown, policy: ConflictPolicy): ConflictOutcome {
  if (conflicts <= policy.maxRetries) return { kind: 'rerun', delayMs: policy.backoff(conflicts) };
  return {
    kind: 'giveUp',
    error: new NonRetriableError(
      `gave up after ${conflicts} optimistic-concurrency conflicts in a row: ${toOmnibusError(thrown).message}`,
      { code: 'CONCURRENCY_CONFLICT', cause: thrown },
    ),
  };
}

/** Whether `thrown` is a lost optimistic-concurrency update. */
export function isConflict(thrown: unknown): boolean {
  return thrown instanceof ConcurrencyError && thrown.retriable;
}
