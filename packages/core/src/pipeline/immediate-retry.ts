import { toOmnibusError } from '../errors.js';
import { isConflict } from '../failure-policy.js';
import type { Middleware } from './middleware.js';

/**
 * Retries a failed attempt in place, up to the handler's `retry.immediate` times, for retriable errors
 * only, before the failure goes on to the delayed-retry / dead-letter decision. Good for blips (a lock
 * timeout, a dropped connection) that a redelivery would only make slower. Each retry is a try of
 * `retry.attempts`: none is made once they are used up.
 */
export const immediateRetry: Middleware = async (ctx, next) => {
  const retries = ctx.options.retry?.immediate ?? 0;
  const attempts = ctx.options.retry?.attempts ?? Infinity;
  for (let tries = 0; ; tries++) {
    try {
      return await next();
    } catch (error) {
      if (
        tries >= retries ||
        ctx.triesBefore + ctx.calls >= attempts ||
        !toOmnibusError(error).retriable ||
        isConflict(error) || // the bus runs a lost optimistic-concurrency update again, spending no try
        ctx.handlerContext.signal.aborted
      )
        throw error;
    }
  }
};
