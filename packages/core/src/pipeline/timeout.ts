import { TimeoutError } from '../errors.js';
import type { Middleware } from './middleware.js';

/**
 * Fails the attempt with a `TimeoutError` (retriable) when the handler runs past its `timeoutMs`, and
 * aborts `ctx.signal` so a cooperative handler stops its own work. JavaScript cannot stop a handler that
 * ignores the signal: its late result is discarded.
 */
export function timeout(defaultTimeoutMs: number | undefined): Middleware {
  return async (ctx, next) => {
    const timeoutMs = ctx.options.timeoutMs ?? defaultTimeoutMs;
    if (timeoutMs === undefined) return next();
    const controller = new AbortController();
    const outer = ctx.handlerContext.signal;
    const onOuterAbort = (): void => controller.abort(outer.reason);
    outer.addEventListener('abort', onOuterAbort, { once: true });
    const context = ctx.handlerContext;
    ctx.handlerContext = Object.assign(Object.create(context) as typeof context, {
      signal: controller.signal,
    });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new TimeoutError(`${ctx.envelope.type} handler exceeded ${timeoutMs} ms`);
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
      outer.removeEventListener('abort', onOuterAbort);
      ctx.handlerContext = context;
    }
  };
}
