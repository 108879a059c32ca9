import { UnknownMessageTypeError } from './bus-errors.js';
import type { BusStats } from './bus-stats.js';
import { decodeValidated } from './contract-validation.js';
import { DONE } from './done.js';
import type { Envelope } from './envelope.js';
import { Header } from './envelope.js';
import { DeserializationError, TransportError, toOmnibusError } from './errors.js';
import type { ConflictPolicy, ResolvedRetryPolicy } from './failure-policy.js';
import { conflictOutcome, failureOutcome, isConflict, triesBefore } from './failure-policy.js';
import type { RequestQuery, ScheduleMessage } from './handler-context.js';
import { HandlerMessageContext } from './handler-context.js';
import type { RegisteredHandler, Route } from './handler-registry.js';
import type { Logger } from './logger.js';
import type { MessageContext } from './message-context.js';
import type { Outgoing } from './outgoing.js';
import type { HandlingContext } from './pipeline/middleware.js';
import type { Responder } from './request-reply/responder.js';
import type { ScheduleStore } from './schedule-store.js';
import type { SerializerRegistry } from './serializer.js';
import { sealedTarget, verifyEnvelope } from './signing/envelope-signature.js';
import type { SigningKeys } from './signing/signing-options.js';
import type { Handling } from './telemetry/handling.js';
import { startHandling } from './telemetry/handling.js';
import { messageLogFields } from './telemetry/log-fields.js';
import type { Telemetry } from './telemetry/telemetry.js';
import type { Delivery } from './transport.js';
import { describeSource } from './transport.js';

/** How many redelivered messages a route remembers the tries of; older ones fall back to an estimate. */
const REMEMBERED_TRIES = 10_000;

/** What an abandoned step resolves to. */
const ABANDONED = Promise.resolve(undefined);

export interface DispatcherOptions {
  /** When given, deliveries are verified before anything else is read from them. */
  readonly signing: SigningKeys | undefined;
  readonly stats: BusStats;
  readonly logger: Logger;
  readonly serializers: SerializerRegistry;
  readonly outgoing: Outgoing;
  readonly schedule: ScheduleMessage;
  /** With persistence the unit of work writes a handler's messages to the outbox; else they are sent here. */
  readonly persistent: boolean;
  /** Without persistence: the in-process schedule table a handler's schedules go to once it succeeds. */
  readonly inProcessSchedules: ScheduleStore | undefined;
  readonly conflictPolicy: ConflictPolicy;
  readonly circuitCooldownMs: number;
  readonly responder: Responder;
  readonly request: RequestQuery;
  readonly telemetry: Telemetry;
}

/**
 * Handles deliveries: the transport's sink → the handler chain → settling (ack, retry, dead-letter).
 * The drain and abandon logic of a graceful stop lives here: every step of a handling is abandonable,
 * so `stop` returns at its deadline even if a handler, a decoder or a settle never ends.
 */
export class Dispatcher {
  readonly #options: DispatcherOptions;
  readonly #stats: BusStats;
  readonly #logger: Logger;
  #drained: (() => void) | undefined;

  constructor(options: DispatcherOptions) {
    this.#options = options;
    this.#stats = options.stats;
    this.#logger = options.logger;
  }

  /** The transport's sink: returns when the handling has settled its delivery, or `stop` abandoned it. */
  sink(route: Route, delivery: Delivery): Promise<void> {
    route.inFlight++;
    this.#stats.received++;
    const handling = startHandling(this.#options.telemetry, route.source, route.group, delivery);
    return this.#handle(route, delivery, handling).then(
      () => {
        handling.end();
        this.#handled(route);
      },
      (error: unknown) => {
        handling.end(error);
        // Settling failed (the broker is gone): the delivery stays unsettled and comes back. Never crash.
        this.#logger.error(
          {
            ...messageLogFields(delivery),
            source: describeSource(route.source),
            error: toOmnibusError(error).message,
          },
          'could not settle delivery',
        );
        this.#handled(route);
      },
    );
  }

  /** Waits until no route has a handling in flight, or `deadline` (epoch ms) passes. */
  async drain(routes: readonly Route[], deadline: number): Promise<void> {
    while (routes.some((route) => route.inFlight > 0) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        setTimeout(resolve, Math.max(0, Math.min(50, deadline - Date.now())));
      });
    }
  }

  /**
   * Aborts the handlings still in flight (through `ctx.signal`) and lets them go without waiting: one
   * that ignores its signal must not hang the shutdown. Their deliveries stay unsettled, so the broker
   * delivers them again.
   */
  abandon(routes: readonly Route[]): void {
    for (const route of routes) {
      if (route.inFlight === 0) continue;
      route.stopping.abort(new TransportError('bus stopping', { code: 'BUS_STOPPING' }));
      for (const release of route.releases) release();
      route.releases.clear();
    }
  }

  #handled(route: Route): void {
    route.inFlight--;
    if (route.inFlight === 0) this.#drained?.();
  }

  /**
   * `step` itself when it is already settled (`DONE`: a synchronous handler, a transport's synchronous
   * settle), else a promise that settles with it or, at the drain deadline, when `abandon` releases the
   * route's handlings (then it resolves undefined and the handling returns without settling). Every
   * await of `#handle` goes through here, so a step that never ends cannot hang `stop`.
   */
  #abandonable<T>(route: Route, step: Promise<T>): Promise<T | undefined> {
    if (step === DONE) return step;
    if (route.stopping.signal.aborted) {
      // Past the deadline nothing is waited for (the releases are spent): a step begun now is let go.
      step.catch(() => undefined);
      return ABANDONED;
    }
    return new Promise<T | undefined>((resolve, reject) => {
      const release = (): void => resolve(undefined);
      route.releases.add(release);
      step.then(
        (value) => {
          route.releases.delete(release);
          resolve(value);
        },
        (error: unknown) => {
          route.releases.delete(release);
          reject(error instanceof Error ? error : toOmnibusError(error));
        },
      );
    });
  }

  async #handle(route: Route, delivery: Delivery, handling: Handling): Promise<void> {
    const envelope = delivery.envelope;
    const signing = this.#options.signing;
    if (signing !== undefined) {
      const refused = verifyEnvelope(envelope, signing);
      if (refused !== undefined)
        return this.#abandonable(route, this.#deadLetter(route, delivery, handling, refused));
    }
    // `omnibus-target-group` is honoured only under a seal made with our keys (a replay run's): any
    // producer can write the header, and honouring it would let one make other groups drop a message.
    const target = sealedTarget(envelope, signing);
    if (target !== undefined && route.source.kind === 'subscription' && target !== route.group) {
      this.#stats.notForThisGroup++;
      return this.#abandonable(route, delivery.ack());
    }
    if (!envelope.type || !envelope.id) {
      const missing = new DeserializationError(`message has no ${envelope.type ? 'id' : 'type'}`, {
        code: 'MISSING_HEADER',
      });
      return this.#abandonable(route, this.#deadLetter(route, delivery, handling, missing));
    }
    const handler = route.handlers.get(envelope.type);
    if (handler === undefined) return this.#unknownType(route, delivery, handling);
    const before =
      delivery.attempt === 1
        ? 0
        : triesBefore(delivery.attempt, route.tries.get(envelope.id), handler.policy);
    let payload: unknown;
    try {
      const serializer = this.#options.serializers.forContentType(envelope.headers[Header.contentType]);
      payload = decodeValidated(serializer, handler.contract, envelope.body);
      if (payload instanceof Promise) {
        payload = await this.#abandonable(route, payload as Promise<unknown>);
        if (route.stopping.signal.aborted) return; // abandoned at the drain deadline
      }
    } catch (error) {
      if (route.stopping.signal.aborted) return; // left unsettled: released for redelivery on close
      if (this.#answersWithFailure(handler, envelope))
        return this.#abandonable(route, this.#failReply(delivery, error));
      // Undecodable bytes are non-retriable and dead-letter at once; a retriable failure (a schema
      // registry that is briefly unreachable) is retried like a handler failure.
      return this.#abandonable(
        route,
        this.#fail(route, handler.policy, delivery, handling, before, 0, error),
      );
    }
    const ctx = this.#handlingContext(route, handler, delivery, payload, before);
    try {
      try {
        await this.#abandonable(
          route,
          handling.run(() => handler.run(ctx)),
        );
      } catch (error) {
        if (!isConflict(error) || route.stopping.signal.aborted) throw error;
        await this.#rerunConflicts(route, handler, ctx, error);
      }
      if (route.stopping.signal.aborted) return; // abandoned at the drain deadline: its consumer is gone
      if (ctx.duplicate) {
        this.#stats.duplicates++;
        return this.#abandonable(route, delivery.ack());
      }
      if (!this.#options.persistent && ctx.outgoing.length > 0) {
        await this.#abandonable(route, this.#options.outgoing.dispatch(ctx.outgoing, ctx.handlerContext));
        if (route.stopping.signal.aborted) return;
      }
      const schedules = this.#options.inProcessSchedules;
      if (schedules !== undefined && ctx.scheduled.length > 0) {
        await schedules.add(undefined, ctx.scheduled.splice(0));
      }
      if (handler.contract.kind === 'query' && this.#options.responder.wantsReply(envelope)) {
        await this.#abandonable(route, this.#options.responder.reply(envelope, ctx.reply));
      }
    } catch (error) {
      if (route.stopping.signal.aborted) return; // left unsettled: released for redelivery on close
      if (this.#answersWithFailure(handler, envelope))
        return this.#abandonable(route, this.#failReply(delivery, error));
      return this.#abandonable(
        route,
        this.#fail(route, handler.policy, delivery, handling, before, ctx.calls, error),
      );
    }
    this.#stats.handled++;
    if (delivery.attempt > 1) route.tries.delete(envelope.id);
    return this.#abandonable(route, delivery.ack());
  }

  #handlingContext(
    route: Route,
    handler: RegisteredHandler,
    delivery: Delivery,
    payload: unknown,
    before: number,
  ): HandlingContext {
    const ctx: HandlingContext = {
      delivery,
      envelope: delivery.envelope,
      contract: handler.contract,
      options: handler.options,
      payload,
      triesBefore: before,
      calls: 0,
      outgoing: [],
      scheduled: [],
      duplicate: false,
      reply: undefined,
      handlerContext: undefined as unknown as MessageContext, // set below: it holds messages in ctx
    };
    ctx.handlerContext = new HandlerMessageContext(
      delivery.envelope,
      delivery.attempt,
      route.source.kind === 'subscription' ? route.group : undefined,
      route.stopping.signal,
      ctx,
      this.#options.outgoing,
      this.#options.schedule,
      this.#options.request,
    );
    return ctx;
  }

  /**
   * A query whose caller waits: a failure goes back to it as a remote error instead of being retried or
   * dead-lettered (the caller decides; by the time a redelivery came, it would have timed out).
   */
  #answersWithFailure(handler: RegisteredHandler, envelope: Envelope): boolean {
    return handler.contract.kind === 'query' && this.#options.responder.wantsReply(envelope);
  }

  async #failReply(delivery: Delivery, error: unknown): Promise<void> {
    this.#stats.failedQueries++;
    await this.#options.responder.fail(delivery.envelope, error);
    return delivery.ack();
  }

  /**
   * A type no handler of this route takes. A queue belongs to one service: there it is a routing
   * mistake and dead-letters. On a channel other groups' types pass by, and acking them is right.
   */
  #unknownType(route: Route, delivery: Delivery, handling: Handling): Promise<void | undefined> {
    this.#stats.unknownType++;
    const source = describeSource(route.source);
    if (route.source.kind === 'queue') {
      const error = new UnknownMessageTypeError(delivery.envelope.type, source);
      return this.#abandonable(route, this.#deadLetter(route, delivery, handling, error));
    }
    this.#logger.debug({ type: delivery.envelope.type, source }, 'no handler for type: acked');
    return this.#abandonable(route, delivery.ack());
  }

  /**
   * Runs a handling that lost an optimistic-concurrency update again (see `conflictOutcome`): resolves
   * when a run succeeds or `stop` abandons it, rejects with the first other failure or on giving up.
   */
  async #rerunConflicts(
    route: Route,
    handler: RegisteredHandler,
    ctx: HandlingContext,
    first: unknown,
  ): Promise<void> {
    let error = first;
    for (let conflicts = 1; ; conflicts++) {
      ctx.calls = Math.max(0, ctx.calls - 1); // the lost run is not a try
      const outcome = conflictOutcome(conflicts, error, this.#options.conflictPolicy);
      if (outcome.kind === 'giveUp') throw outcome.error;
      this.#stats.retried++;
      this.#stats.conflicts++;
      await this.#abandonable(route, new Promise((resolve) => setTimeout(resolve, outcome.delayMs)));
      if (route.stopping.signal.aborted) return;
      try {
        await this.#abandonable(route, handler.run(ctx));
        return;
      } catch (next) {
        if (!isConflict(next) || route.stopping.signal.aborted) throw next;
        error = next;
      }
    }
  }

  async #fail(
    route: Route,
    policy: ResolvedRetryPolicy,
    delivery: Delivery,
    handling: Handling,
    before: number,
    calls: number,
    thrown: unknown,
  ): Promise<void> {
    const outcome = failureOutcome(thrown, { delivery: delivery.attempt, before, calls }, policy, {
      circuitCooldownMs: this.#options.circuitCooldownMs,
    });
    const id = delivery.envelope.id;
    route.tries.delete(id);
    if (outcome.kind === 'deadLetter')
      return this.#deadLetter(route, delivery, handling, outcome.error, outcome.attempts);
    this.#stats.retried++;
    handling.retry(thrown, outcome.delayMs);
    if (route.tries.size >= REMEMBERED_TRIES) route.tries.delete(route.tries.keys().next().value!);
    route.tries.set(id, outcome.tries);
    this.#logger.warn(
      {
        ...messageLogFields(delivery),
        type: delivery.envelope.type,
        attempt: delivery.attempt,
        tries: outcome.tries,
        delayMs: outcome.delayMs,
        error: toOmnibusError(thrown).message,
      },
      'handler failed: retrying',
    );
    return delivery.retry(outcome.delayMs);
  }

  async #deadLetter(
    route: Route,
    delivery: Delivery,
    handling: Handling,
    thrown: unknown,
    attempts = delivery.attempt,
  ): Promise<void> {
    const error = toOmnibusError(thrown);
    this.#stats.deadLettered++;
    handling.deadLetter(error, attempts);
    this.#logger.error(
      {
        ...messageLogFields(delivery),
        type: delivery.envelope.type,
        source: describeSource(route.source),
        attempt: delivery.attempt,
        attempts,
        code: error.code,
        error: error.message,
      },
      'dead-lettered',
    );
    return delivery.deadLetter({
      message: error.message,
      code: error.code,
      ...(error.stack === undefined ? {} : { stack: error.stack }),
      attempts,
      failedAt: new Date(),
    });
  }
}
