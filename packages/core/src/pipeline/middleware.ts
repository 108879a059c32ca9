import type { Contract } from '../contracts.js';
import type { HandleOptions } from '../decorators.js';
import type { Envelope } from '../envelope.js';
import type { MessageContext } from '../message-context.js';
import type { OutboxMessage } from '../persistence.js';
import type { ScheduledMessage } from '../schedule-store.js';
import type { Delivery } from '../transport.js';

/** Everything one handling of one delivery carries through the pipeline. */
export interface HandlingContext {
  readonly delivery: Delivery;
  readonly envelope: Envelope;
  readonly contract: Contract;
  readonly options: HandleOptions;
  readonly payload: unknown;
  /** Tries this message had in earlier deliveries; with `calls`, what `retry.attempts` limits. */
  readonly triesBefore: number;
  /** Handler calls in this delivery so far, immediate retries included. */
  calls: number;
  /** What the handler published, held until it succeeds (the unit of work writes it to the outbox). */
  readonly outgoing: OutboxMessage[];
  /** Without persistence: what the handler scheduled, made once it succeeds. */
  readonly scheduled: ScheduledMessage[];
  /** Set by the unit of work when the inbox knows the message: a duplicate, the handler did not run. */
  duplicate: boolean;
  /** What a query's handler returned: the reply, sent once the handling succeeds. */
  reply?: unknown;
  /** The `MessageContext` the handler gets; middleware may replace it to overlay `tx` and `signal`. */
  handlerContext: MessageContext;
}

export type Next = () => Promise<void>;

/** `(ctx, next) => Promise<void>`: do work around `next()`, or throw to fail the attempt. */
export type Middleware = (ctx: HandlingContext, next: Next) => Promise<void>;

/** Composes middleware in order, outermost first, around `terminal`; the chain is built once. */
export function compose(
  middleware: readonly Middleware[],
  terminal: (ctx: HandlingContext) => Promise<void>,
): (ctx: HandlingContext) => Promise<void> {
  let run = terminal;
  for (let index = middleware.length - 1; index >= 0; index--) {
    const layer = middleware[index]!;
    const inner = run;
    run = (ctx) => layer(ctx, () => inner(ctx));
  }
  return run;
}
