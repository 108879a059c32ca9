import type { Backoff } from './backoff.js';
import { exponential } from './backoff.js';
import { toOmnibusError } from './errors.js';
import { abortableDelay } from './clock.js';

export interface RetryOptions {
  /** Attempts in all, the first included. Default 5. */
  readonly attempts?: number;
  readonly backoff?: Backoff;
  /** Whether an error is worth another attempt. Default: the error's `retriable` flag. */
  readonly retriable?: (error: unknown) => boolean;
  readonly signal?: AbortSignal;
  /** Called before each wait, e.g. to log. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `operation` until it succeeds, a non-retriable error is thrown, or the attempts run out; waits
 * `backoff(attempt)` between attempts. The one retry loop for client-side work (connecting, publishing,
 * registry calls); message redelivery uses the bus's policy instead.
 */
export async function retry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  const backoff = options.backoff ?? exponential();
  const retriable = options.retriable ?? ((error: unknown) => toOmnibusError(error).retriable);
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= attempts || !retriable(error) || options.signal?.aborted) throw error;
      const delayMs = backoff(attempt);
      options.onRetry?.(error, attempt, delayMs);
      await abortableDelay(delayMs, options.signal);
    }
  }
}
