import { ConfigurationError } from './errors.js';

/** The delay before delivery number `attempt + 1`, given that delivery `attempt` (1-based) failed. */
export type Backoff = (attempt: number) => number;

export interface ExponentialBackoffOptions {
  /** Delay after the first failure, before jitter. Default 100 ms. */
  readonly initialMs?: number;
  /** Growth per attempt. Default 2. */
  readonly multiplier?: number;
  /** Cap on any one delay. Default 30 s. */
  readonly maxMs?: number;
  /**
   * `full` (default): uniform in [0, delay], the AWS "full jitter" that spreads a herd of retries best;
   * `none`: exactly the exponential delay (tests, predictable schedules).
   */
  readonly jitter?: 'full' | 'none';
  /** Source of randomness in [0, 1); injectable for tests. Default `Math.random`. */
  readonly random?: () => number;
}

/** Exponential backoff with full jitter, capped: `random() * min(maxMs, initialMs * multiplier^(attempt-1))`. */
export function exponential(options: ExponentialBackoffOptions = {}): Backoff {
  const initialMs = options.initialMs ?? 100;
  const multiplier = options.multiplier ?? 2;
  const maxMs = options.maxMs ?? 30_000;
  const random = options.random ?? Math.random;
  if (!(initialMs >= 0)) throw new ConfigurationError('backoff.initialMs', 'must be >= 0');
  if (!(multiplier >= 1)) throw new ConfigurationError('backoff.multiplier', 'must be >= 1');
  if (!(maxMs >= initialMs)) throw new ConfigurationError('backoff.maxMs', 'must be >= initialMs');
  const jitter = options.jitter ?? 'full';
  const backoff: Backoff = (attempt) => {
    const ceiling = Math.min(maxMs, initialMs * multiplier ** Math.max(0, attempt - 1));
    return Math.round(jitter === 'full' ? random() * ceiling : ceiling);
  };
  return named(backoff, `exponential ${initialMs} ms ×${multiplier} up to ${maxMs} ms, ${jitter} jitter`);
}

/** The same delay every time. */
export function constant(delayMs: number): Backoff {
  if (!(delayMs >= 0)) throw new ConfigurationError('backoff.delayMs', 'must be >= 0');
  return named(() => delayMs, `constant ${delayMs} ms`);
}

/** Names a backoff by what it does, for `bus.describe()`. */
function named(backoff: Backoff, name: string): Backoff {
  return Object.defineProperty(backoff, 'name', { value: name });
}
