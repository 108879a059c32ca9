import { runWithMessageContext } from '../message-context.js';
import type { Middleware } from './middleware.js';

/**
 * Makes the handler's context ambient (AsyncLocalStorage) for everything the handler calls, so code deep
 * below a handler — `@Emits` methods, loggers, clients — publishes with the same correlation id and with
 * this message as the cause, without passing the context by hand.
 */
export const correlation: Middleware = (ctx, next) => runWithMessageContext(ctx, next);
