import { AsyncLocalStorage } from 'node:async_hooks';
import type { CommandContract, EventContract, PayloadOf, QueryContract, ReplyOf } from './contracts.js';
import type { RequestOptions } from './request-reply/requester.js';
import type { Envelope } from './envelope.js';
import type { PublishResult } from './scheduling.js';

export interface PublishOptions {
  /** Extra headers; names must not start with a CloudEvents binding prefix (`ce_`, `ce-`, `cloudEvents`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Overrides the contract's key function. */
  readonly key?: string;
  /** Overrides the message id (e.g. to make a retried publish idempotent downstream). */
  readonly id?: string;
  readonly subject?: string;
  /**
   * Deliver at this time instead of now: the message waits in the persistence's scheduled-messages table
   * (or, without persistence, an in-process timer) and the call resolves with its schedule. A time in the
   * past releases at once. See docs/scheduling.md.
   */
  readonly deliverAt?: Date;
  /** Deliver this many milliseconds from now (instead of `deliverAt`). */
  readonly delayMs?: number;
}

/**
 * What a handler gets besides its payload. `Tx` is the transaction type of the bus's persistence
 * (`DatabaseSync` for SQLite, `PoolClient` for PostgreSQL, `MemoryTransaction` in memory): a handler
 * declares `ctx: MessageContext<DatabaseSync>` and uses `ctx.tx` without a cast.
 */
export interface MessageContext<Tx = unknown> {
  readonly envelope: Envelope;
  readonly messageId: string;
  readonly type: string;
  readonly headers: Readonly<Record<string, string>>;
  /** 1 on the first delivery. */
  readonly attempt: number;
  readonly correlationId: string;
  readonly causationId: string | undefined;
  /** The subscriber group handling the message; undefined for a command queue. */
  readonly group: string | undefined;
  /** Aborted when the handler times out or the bus stops past its drain deadline. */
  readonly signal: AbortSignal;
  /** The unit of work's transaction when the bus has persistence (typed `Tx`); undefined otherwise. */
  readonly tx: Tx;
  /**
   * Publishes an event caused by this message: same correlation id, causation id = this message's id.
   * Nothing leaves before the handler succeeds (with persistence, the event goes to the outbox in `tx`).
   * With `deliverAt` or `delayMs` it is scheduled, in `tx` too, and resolves with the schedule.
   */
  publish<C extends EventContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<PublishResult>;
  /** Sends a command caused by this message, with the same guarantees as `publish`. */
  send<C extends CommandContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<PublishResult>;
  /**
   * Asks a query and waits for the reply (see `Bus.request`), with this message's correlation id and
   * this message as its causation. Unlike `publish`, the request leaves at once, not after the handler.
   */
  request<C extends QueryContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: RequestOptions,
  ): Promise<ReplyOf<C>>;
}

/** Something that publishes events and sends commands: the bus, a handler's context, a transaction's scope. */
export interface Publisher {
  publish<C extends EventContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<PublishResult>;
  send<C extends CommandContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<PublishResult>;
}

/**
 * What is ambient on an async path: the message being handled (middleware may swap it, e.g. to add
 * `tx`) and, inside `bus.transaction`, the transaction's publisher, which then takes what is published.
 */
export interface MessageContextHolder {
  readonly handlerContext: MessageContext | undefined;
  readonly publisher?: Publisher;
}

const current = new AsyncLocalStorage<MessageContextHolder>();

/** The context of the message being handled on this async path, if any. */
export function currentMessageContext(): MessageContext | undefined {
  return current.getStore()?.handlerContext;
}

/**
 * Where a publish on this async path goes: the innermost `bus.transaction`'s scope, else the handler's
 * context, else nowhere (undefined: the caller publishes directly).
 */
export function currentPublisher(): Publisher | undefined {
  const store = current.getStore();
  return store?.publisher ?? store?.handlerContext;
}

/** Runs `work` with `holder` ambient; a holder replaces the outer one entirely (a handler's own scope). */
export function runWithMessageContext<T>(holder: MessageContextHolder, work: () => T): T {
  return current.run(holder, work);
}
