import type { OutboxMessage, Persistence } from '../persistence.js';
import type { Middleware } from './middleware.js';

/** Set on the handling when the inbox recognised a duplicate and the handler did not run. */
export const DUPLICATE = Symbol('omnibus:duplicate');

/**
 * Runs the rest of the pipeline inside one database transaction: the inbox record (a duplicate skips the
 * handler and is acked), the handler's own writes through `ctx.tx`, and the outbox rows of everything it
 * published. A handler that throws rolls all of it back.
 */
export function unitOfWork(persistence: Persistence, group: string): Middleware {
  return async (ctx, next) => {
    const message = ctx.message;
    try {
      await persistence.unitOfWork.transaction(async (tx) => {
        if (!(await persistence.inbox.record(tx, group, ctx.envelope.id))) {
          (ctx as { [DUPLICATE]?: boolean })[DUPLICATE] = true;
          return;
        }
        ctx.message = Object.assign(Object.create(message) as typeof message, { tx });
        await next();
        await persistence.outbox.add(tx, outgoingOf(ctx.message).splice(0));
      });
    } finally {
      ctx.message = message;
    }
  };
}

/** Messages a handler published, held until it succeeds. */
export const OUTGOING = Symbol('omnibus:outgoing');

export function outgoingOf(message: object): OutboxMessage[] {
  return (message as { [OUTGOING]: OutboxMessage[] })[OUTGOING];
}
