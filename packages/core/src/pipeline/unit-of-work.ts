import type { Persistence } from '../persistence.js';
import type { Middleware } from './middleware.js';

/**
 * Runs the rest of the pipeline inside one database transaction: the inbox record (a duplicate skips the
 * handler, sets `ctx.duplicate` and is acked), the handler's own writes through `ctx.tx`, and the outbox
 * rows of everything it published (`ctx.outgoing`). A handler that throws rolls all of it back.
 */
export function unitOfWork(persistence: Persistence, group: string): Middleware {
  return async (ctx, next) => {
    const context = ctx.handlerContext;
    try {
      await persistence.unitOfWork.transaction(async (tx) => {
        if (!(await persistence.inbox.record(tx, group, ctx.envelope.id))) {
          ctx.duplicate = true;
          return;
        }
        ctx.handlerContext = Object.assign(Object.create(context) as typeof context, { tx });
        await next();
        await persistence.outbox.add(tx, ctx.outgoing.splice(0));
      });
    } finally {
      ctx.handlerContext = context;
    }
  };
}
