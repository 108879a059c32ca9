import type {
  CommandContract,
  Contract,
  EventContract,
  PayloadOf,
  QueryContract,
  ReplyOf,
} from './contracts.js';
import type { Envelope } from './envelope.js';
import { Header } from './envelope.js';
import type { MessageContext, PublishOptions } from './message-context.js';
import type { Outgoing } from './outgoing.js';
import type { OutboxMessage } from './persistence.js';
import type { RequestOptions } from './request-reply/requester.js';
import type { ScheduledMessage } from './schedule-store.js';
import type { PublishResult } from './scheduling.js';

/** Schedules a message for later, in `tx` when given (see `Bus` and docs/scheduling.md). */
export type ScheduleMessage = (
  contract: Contract,
  payload: unknown,
  options: PublishOptions,
  cause: MessageContext,
  tx: unknown,
  deferred: ScheduledMessage[],
) => Promise<ScheduledMessage>;

/** Asks a query on behalf of `cause` (see `Bus.request`). */
export type RequestQuery = (
  contract: QueryContract,
  payload: unknown,
  options: RequestOptions | undefined,
  cause: MessageContext,
) => Promise<unknown>;

/** Where a handler's messages are held until it succeeds: the handling's own lists. */
export interface HeldMessages {
  readonly outgoing: OutboxMessage[];
  readonly scheduled: ScheduledMessage[];
}

/**
 * The `MessageContext` of one delivery. Plain fields, so middleware can overlay `tx` and `signal`. What
 * the handler publishes is built by the bus's outgoing path and held in the handling's lists.
 */
export class HandlerMessageContext implements MessageContext {
  readonly messageId: string;
  readonly type: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly correlationId: string;
  readonly causationId: string | undefined;
  readonly tx: unknown = undefined;
  // Not #private: middleware overlays this object (`Object.create(context)`), and a private field is not
  // reachable through the prototype.
  private readonly held: HeldMessages;
  private readonly outgoing: Outgoing;
  private readonly schedule: ScheduleMessage;
  private readonly ask: RequestQuery;

  constructor(
    readonly envelope: Envelope,
    readonly attempt: number,
    readonly group: string | undefined,
    readonly signal: AbortSignal,
    held: HeldMessages,
    outgoing: Outgoing,
    schedule: ScheduleMessage,
    ask: RequestQuery,
  ) {
    this.messageId = envelope.id;
    this.type = envelope.type;
    this.headers = envelope.headers;
    this.correlationId = envelope.headers[Header.correlationId] ?? envelope.id;
    this.causationId = envelope.headers[Header.causationId];
    this.held = held;
    this.outgoing = outgoing;
    this.schedule = schedule;
    this.ask = ask;
  }

  request<C extends QueryContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: RequestOptions,
  ): Promise<ReplyOf<C>> {
    // Not held like a publish: the handler waits for the answer now. `this` is the cause, so the
    // request keeps this message's correlation id and names it as its causation.
    return this.ask(contract, payload, options, this) as Promise<ReplyOf<C>>;
  }

  publish<C extends EventContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<PublishResult> {
    return this.hold(contract, payload, options);
  }

  send<C extends CommandContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<PublishResult> {
    return this.hold(contract, payload, options);
  }

  private async hold(
    contract: Contract,
    payload: unknown,
    options: PublishOptions | undefined,
  ): Promise<PublishResult> {
    if (options?.deliverAt !== undefined || options?.delayMs !== undefined) {
      return this.schedule(contract, payload, options, this, this.tx, this.held.scheduled);
    }
    this.held.outgoing.push(await this.outgoing.create(contract, payload, options, this));
  }
}
