import type { BusOptions } from './bus-options.js';
import type { Contract } from './contracts.js';
import type { HandleOptions, HandlerClass } from './decorators.js';
import { getHandlerMetadata, getSubscriberMetadata } from './decorators.js';
import { DONE } from './done.js';
import { ConfigurationError, toOmnibusError } from './errors.js';
import type { ResolvedRetryPolicy } from './failure-policy.js';
import type { MessageContext } from './message-context.js';
import { CircuitBreaker } from './pipeline/circuit-breaker.js';
import { correlation } from './pipeline/correlation.js';
import { immediateRetry } from './pipeline/immediate-retry.js';
import type { HandlingContext, Middleware } from './pipeline/middleware.js';
import { compose } from './pipeline/middleware.js';
import { timeout } from './pipeline/timeout.js';
import { unitOfWork } from './pipeline/unit-of-work.js';
import type { Consumer, Source, Topology } from './transport.js';
import { describeSource } from './transport.js';

/** One `@Handle` method, registered for one message type on one consumer. */
export interface RegisteredHandler {
  readonly contract: Contract;
  readonly handlerClass: HandlerClass;
  readonly method: string | symbol;
  readonly options: HandleOptions;
  readonly policy: ResolvedRetryPolicy;
  /** The layers around the method, outermost first, by name (for `bus.describe()`). */
  readonly middleware: readonly string[];
  /** The whole chain: middleware, then the method on an instance resolved for this message. */
  readonly run: (ctx: HandlingContext) => Promise<void>;
}

/** One consumer of the bus: a source, the handlers of its message types, and its state while running. */
export interface Route {
  readonly source: Source;
  /** Subscriber group; for a command queue, the group of its handler class (the inbox key). */
  readonly group: string;
  readonly concurrency: number;
  readonly handlers: Map<string, RegisteredHandler>;
  readonly breaker: CircuitBreaker | undefined;
  consumer?: Consumer;
  stopping: AbortController;
  inFlight: number;
  /**
   * One per pending step of a handling (handler, asynchronous decode, dispatch, settle): `stop` resolves
   * them all at the drain deadline, so every sink call returns even if a handler never does.
   */
  readonly releases: Set<() => void>;
  /** Tries spent by messages this route handed back for redelivery, by id (bounded; see `triesBefore`). */
  readonly tries: Map<string, number>;
}

/** Names of the built-in layers, as `bus.describe()` shows them; yours show as their function's name. */
const LAYER_NAMES = new Map<Middleware, string>([
  [correlation, 'correlation'],
  [immediateRetry, 'immediate retry'],
]);

/**
 * The handler classes of a bus, read once from their decorators: one route per source, one registered
 * handler per message type and route, and the topology they need.
 */
export class HandlerRegistry {
  readonly routes: Route[] = [];
  readonly #options: BusOptions<unknown>;
  readonly #resolve: (handlerClass: HandlerClass) => object;
  readonly #defaultPolicy: ResolvedRetryPolicy;

  constructor(
    options: BusOptions<unknown>,
    resolve: (handlerClass: HandlerClass) => object,
    defaultPolicy: ResolvedRetryPolicy,
  ) {
    this.#options = options;
    this.#resolve = resolve;
    this.#defaultPolicy = defaultPolicy;
    for (const handlerClass of options.handlers ?? []) this.#add(handlerClass);
  }

  /**
   * Resolves every handler class once, so a missing DI binding fails `start` (naming the class and what
   * the container said) instead of the first message, as a retriable failure, then dead letters.
   */
  checkResolvable(): void {
    for (const handlerClass of new Set(this.#options.handlers ?? [])) {
      try {
        this.#resolve(handlerClass);
      } catch (error) {
        throw new ConfigurationError(
          'handlers',
          `${handlerClass.name} cannot be resolved: ${toOmnibusError(error).message.replace(/\s*\n\s*/g, ' ')}`,
        );
      }
    }
  }

  /** What the routes consume from: channels, queues and one subscription per group and channel. */
  topology(): Topology {
    const channels = new Map<string, boolean>();
    const queues = new Map<string, { ordered: boolean; maxDeliveries: number }>();
    const subscriptions: { channel: string; group: string; types: string[]; maxDeliveries: number }[] = [];
    for (const route of this.routes) {
      const handlers = [...route.handlers.values()];
      const ordered = handlers.some((h) => h.contract.ordered);
      // The broker's own dead-lettering (SQS redrive, Pub/Sub policy) is a backstop for consumers that
      // crash before settling: it must not fire before the bus has used its own retry budget.
      const maxDeliveries = Math.max(...handlers.map((h) => h.policy.attempts)) + 1;
      if (route.source.kind === 'subscription') {
        channels.set(route.source.channel, (channels.get(route.source.channel) ?? false) || ordered);
        subscriptions.push({
          channel: route.source.channel,
          group: route.source.group,
          types: handlers.map((h) => h.contract.type),
          maxDeliveries,
        });
      } else if (route.source.kind === 'queue') {
        queues.set(route.source.queue, { ordered, maxDeliveries });
      }
    }
    return {
      channels: [...channels].map(([name, ordered]) => ({ name, ordered })),
      queues: [...queues].map(([name, q]) => ({ name, ...q })),
      subscriptions,
    };
  }

  #add(handlerClass: HandlerClass): void {
    const subscriber = getSubscriberMetadata(handlerClass);
    if (subscriber === undefined) {
      throw new ConfigurationError(
        'handlers',
        `${handlerClass.name} has no @Subscriber({ group }) decorator`,
      );
    }
    const methods = getHandlerMetadata(handlerClass);
    if (methods.length === 0)
      throw new ConfigurationError('handlers', `${handlerClass.name} has no @Handle methods`);
    for (const method of methods) {
      const contract = method.contract;
      const source: Source =
        contract.kind === 'event'
          ? { kind: 'subscription', channel: contract.channel, group: subscriber.group }
          : { kind: 'queue', queue: contract.queue };
      let route = this.routes.find((r) => describeSource(r.source) === describeSource(source));
      if (route === undefined) {
        route = {
          source,
          group: subscriber.group,
          concurrency: subscriber.concurrency ?? this.#options.concurrency ?? 16,
          handlers: new Map(),
          breaker:
            this.#options.circuitBreaker === undefined
              ? undefined
              : new CircuitBreaker(this.#options.circuitBreaker),
          stopping: new AbortController(),
          releases: new Set(),
          tries: new Map(),
          inFlight: 0,
        };
        this.routes.push(route);
      }
      if (route.handlers.has(contract.type)) {
        throw new ConfigurationError(
          'handlers',
          `${contract.type} has two handlers on ${describeSource(source)}: one message type, one handler per consumer`,
        );
      }
      const policy: ResolvedRetryPolicy = {
        attempts: method.options.retry?.attempts ?? this.#defaultPolicy.attempts,
        immediate: method.options.retry?.immediate ?? this.#defaultPolicy.immediate,
        backoff: method.options.retry?.backoff ?? this.#defaultPolicy.backoff,
      };
      const chain = this.#middlewareFor(route, method.options, policy);
      const handler: RegisteredHandler = {
        contract,
        handlerClass,
        method: method.method,
        options: { ...method.options, retry: policy },
        policy,
        middleware: chain.map(([name]) => name),
        run: compose(
          chain.map(([, layer]) => layer),
          (ctx) => this.#invoke(handler, ctx),
        ),
      };
      route.handlers.set(contract.type, handler);
    }
  }

  /**
   * The documented order: correlation → circuit breaker → timeout → immediate retry → unit of work →
   * yours. A layer with nothing to do for this handler (no timeout, no immediate retries) is left out.
   */
  #middlewareFor(
    route: Route,
    options: HandleOptions,
    policy: ResolvedRetryPolicy,
  ): [name: string, layer: Middleware][] {
    const chain: [string, Middleware][] = [['correlation', correlation]];
    if (route.breaker !== undefined) chain.push(['circuit breaker', route.breaker.middleware]);
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs;
    if (timeoutMs !== undefined) chain.push([`timeout ${timeoutMs} ms`, timeout(this.#options.timeoutMs)]);
    if (policy.immediate > 0) chain.push([`immediate retry ×${policy.immediate}`, immediateRetry]);
    if (this.#options.persistence !== undefined)
      chain.push(['unit of work', unitOfWork(this.#options.persistence, route.group)]);
    for (const layer of this.#options.middleware ?? [])
      chain.push([LAYER_NAMES.get(layer) ?? (layer.name || 'middleware'), layer]);
    return chain;
  }

  /** Calls the handler method. Not `async`: a synchronous handler costs no extra promise or microtask. */
  #invoke(handler: RegisteredHandler, ctx: HandlingContext): Promise<void> {
    try {
      // An immediate retry starts with nothing published or scheduled.
      ctx.outgoing.length = 0;
      ctx.scheduled.length = 0;
      ctx.calls++;
      const instance = this.#resolve(handler.handlerClass) as Record<string | symbol, unknown>;
      const method = instance[handler.method];
      if (typeof method !== 'function') {
        throw new ConfigurationError(
          'handlers',
          `${handler.handlerClass.name}.${String(handler.method)} is not a method`,
        );
      }
      const result: unknown = (method as (payload: unknown, ctx: MessageContext) => unknown).call(
        instance,
        ctx.payload,
        ctx.handlerContext,
      );
      if (handler.contract.kind === 'query') {
        // The reply is what the handler returned; the last call's value counts (immediate retries).
        if (typeof (result as PromiseLike<unknown> | undefined)?.then !== 'function') {
          ctx.reply = result;
          return DONE;
        }
        return Promise.resolve(result).then((reply) => void (ctx.reply = reply));
      }
      if (result instanceof Promise) return result as Promise<void>;
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function')
        return Promise.resolve(result).then(() => undefined);
      return DONE;
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : toOmnibusError(error));
    }
  }
}
