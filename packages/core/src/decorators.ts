import 'reflect-metadata';
import type { Backoff } from './backoff.js';
import type { CommandContract, Contract, EventContract, PayloadOf, QueryContract } from './contracts.js';
import { isContract } from './contracts.js';
import { ConfigurationError } from './errors.js';
import type { MessageContext } from './message-context.js';
import { currentPublisher } from './message-context.js';

export interface SubscriberOptions {
  /** The subscriber group: every group gets each event; instances of a group compete. */
  readonly group: string;
  /** Deliveries handled at once by this group's consumers. Default: the bus's `concurrency`. */
  readonly concurrency?: number;
}

export interface RetryPolicy {
  /**
   * Tries in all before the message is dead-lettered, the first included. A try is one handler call,
   * immediate retries included (or a delivery that failed before its handler). Default 5.
   */
  readonly attempts?: number;
  /**
   * In-process retries inside one delivery before falling back to a delayed redelivery; each is a try
   * of `attempts`. Default 0.
   */
  readonly immediate?: number;
  /** Delay before redelivery `attempt + 1`. Default: exponential, 100 ms, ×2, capped at 30 s, full jitter. */
  readonly backoff?: Backoff;
}

export interface HandleOptions {
  readonly retry?: RetryPolicy;
  /** Abort the handler (its `ctx.signal`) and fail the attempt with a `TimeoutError` after this long. */
  readonly timeoutMs?: number;
}

export interface HandlerMetadata {
  readonly contract: Contract;
  readonly method: string | symbol;
  readonly options: HandleOptions;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a class with any constructor
export type HandlerClass = new (...args: any[]) => object;

const SUBSCRIBER = Symbol.for('omnibus:subscriber');
const HANDLERS = Symbol.for('omnibus:handlers');
const EMITS = Symbol.for('omnibus:emits');

/** Marks a class whose `@Handle` methods consume as one subscriber group. */
export function Subscriber(options: SubscriberOptions): ClassDecorator {
  if (typeof options?.group !== 'string' || options.group.length === 0) {
    throw new ConfigurationError('Subscriber.group', 'must be a non-empty string');
  }
  return (target) => {
    Reflect.defineMetadata(SUBSCRIBER, options, target);
  };
}

/**
 * A handler may return nothing, a Promise, or any thenable (a query builder, another promise library).
 * Its context may name any transaction type (`MessageContext<DatabaseSync>`): `never` here accepts all.
 */
type HandlerMethod<C extends Contract> =
  C extends QueryContract<unknown, infer R>
    ? (payload: PayloadOf<C>, ctx: MessageContext<never>) => PromiseLike<R> | R
    : (payload: PayloadOf<C>, ctx: MessageContext<never>) => PromiseLike<void> | void;

/** Marks a method as the handler of one event, command or query contract (a query's handler returns the reply). */
export function Handle<C extends Contract>(contract: C, options: HandleOptions = {}) {
  if (!isContract(contract))
    throw new ConfigurationError('Handle', 'expects a contract from defineEvent/defineCommand/defineQuery');
  return <M extends HandlerMethod<C>>(
    target: object,
    method: string | symbol,
    _descriptor: TypedPropertyDescriptor<M>,
  ): void => {
    const ctor = target.constructor;
    const existing = (Reflect.getOwnMetadata(HANDLERS, ctor) as HandlerMetadata[] | undefined) ?? [];
    Reflect.defineMetadata(HANDLERS, [...existing, { contract, method, options }], ctor);
  };
}

export function getSubscriberMetadata(target: HandlerClass): SubscriberOptions | undefined {
  return Reflect.getMetadata(SUBSCRIBER, target) as SubscriberOptions | undefined;
}

export function getHandlerMetadata(target: HandlerClass): readonly HandlerMetadata[] {
  return (Reflect.getMetadata(HANDLERS, target) as HandlerMetadata[] | undefined) ?? [];
}

/** Something that can publish an event: the bus, or a handler's `MessageContext`. */
export interface EventPublisher {
  publish<C extends EventContract>(contract: C, payload: PayloadOf<C>): Promise<void>;
}

/** Something that can send a command: the bus, or a handler's `MessageContext`. */
export interface CommandSender {
  send<C extends CommandContract>(contract: C, payload: PayloadOf<C>): Promise<void>;
}

/**
 * Publishes what the decorated method returns (one payload, an array of them, or nothing) as `contract`
 * events once the method has completed. Inside `bus.transaction(...)` they join the transaction (the
 * outbox, committed or rolled back with it); inside a handler they join the handler's outgoing
 * messages (same correlation, sent only if the handler succeeds, through the outbox when configured).
 * Elsewhere they go through the publisher that `publisherOf` returns, e.g.
 * `@Emits(OrderPlaced, (self: OrderService) => self.bus)`; without one, calling the method outside a
 * handler is a `ConfigurationError`.
 */
export function Emits<C extends EventContract, T extends object = object>(
  contract: C,
  publisherOf?: (self: T) => EventPublisher,
) {
  if (!isContract(contract) || contract.kind !== 'event') {
    throw new ConfigurationError('Emits', 'expects an event contract from defineEvent');
  }
  return <M extends (...args: never[]) => Promise<PayloadOf<C> | readonly PayloadOf<C>[] | void>>(
    target: T,
    method: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): void => {
    const original = descriptor.value;
    if (original === undefined) throw new ConfigurationError('Emits', `${String(method)} is not a method`);
    Reflect.defineMetadata(EMITS, contract, target, method);
    const wrapped = async function (this: T, ...args: never[]) {
      const result = await original.apply(this, args);
      if (result === undefined) return result;
      const events = (Array.isArray(result) ? result : [result]) as PayloadOf<C>[];
      const publisher = currentPublisher() ?? publisherOf?.(this);
      if (publisher === undefined) {
        throw new ConfigurationError(
          'Emits',
          `${String(method)} ran outside a handler and @Emits(${contract.type}) was given no publisher`,
        );
      }
      for (const event of events) await publisher.publish(contract, event);
      return result;
    };
    descriptor.value = wrapped as M;
  };
}

/** The contract an `@Emits` method publishes, for tooling and documentation. */
export function getEmittedContract(target: object, method: string | symbol): EventContract | undefined {
  return Reflect.getMetadata(EMITS, target, method) as EventContract | undefined;
}
