import { exponential } from './backoff.js';
import { systemClock } from './clock.js';
import { failureOutcome, triesBefore } from './failure-policy.js';
import { DONE } from './done.js';
import { BusNotStartedError, UnknownMessageTypeError } from './bus-errors.js';
import type { BusOptions } from './bus-options.js';
import { validateBusOptions } from './bus-options.js';
import type { CommandContract, Contract, EventContract, PayloadOf } from './contracts.js';
import type { HandleOptions, HandlerClass, RetryPolicy } from './decorators.js';
import { getHandlerMetadata, getSubscriberMetadata } from './decorators.js';
import type { Envelope } from './envelope.js';
import { CLOUDEVENTS_SPEC_VERSION, Header } from './envelope.js';
import { ConfigurationError, DeserializationError, TransportError, toOmnibusError } from './errors.js';
import { decodeValidated, encodeValidated } from './contract-validation.js';
import type { Logger } from './logger.js';
import { defaultLogger } from './logger.js';
import type { MessageContext, PublishOptions } from './message-context.js';
import { currentMessageContext, currentPublisher, runWithMessageContext } from './message-context.js';
import type { OutboxMessage } from './persistence.js';
import { OutboxRelay } from './outbox-relay.js';
import { MemoryOutbox, MemoryScheduleStore } from './memory/memory-persistence.js';
import type { ScheduledMessage, ScheduleStore } from './schedule-store.js';
import type { ImmediatePublishOptions, PublishResult, SchedulePublishOptions } from './scheduling.js';
import { BusSchedules, deliverAtOf, scheduledMessage } from './scheduling.js';
import type { OutboxStore } from './persistence.js';
import { CircuitBreaker } from './pipeline/circuit-breaker.js';
import { correlation } from './pipeline/correlation.js';
import { immediateRetry } from './pipeline/immediate-retry.js';
import type { HandlingContext, Middleware } from './pipeline/middleware.js';
import { compose } from './pipeline/middleware.js';
import { timeout } from './pipeline/timeout.js';
import { DUPLICATE, OUTGOING, outgoingOf, unitOfWork } from './pipeline/unit-of-work.js';
import { JsonSerializer, SerializerRegistry } from './serializer.js';
import type {
  Consumer,
  Delivery,
  Destination,
  HealthReport,
  Source,
  Topology,
  Transport,
} from './transport.js';
import { describeSource } from './transport.js';
import { uuidv7 } from './uuid.js';

/** Counters of what the bus has done since it was created. */
export interface BusStats {
  received: number;
  handled: number;
  retried: number;
  deadLettered: number;
  /**
   * Messages of a type no handler of their consumer handles: on a subscription acked, on a command
   * queue dead-lettered (`UNKNOWN_MESSAGE_TYPE`, counted in `deadLettered` too).
   */
  unknownType: number;
  /** Deliveries the inbox recognised as already handled. */
  duplicates: number;
  /** Replayed dead letters addressed to another group: acked without handling. */
  notForThisGroup: number;
}

interface Binding {
  readonly contract: Contract;
  readonly handlerClass: HandlerClass;
  readonly method: string | symbol;
  readonly options: HandleOptions;
  readonly policy: Required<RetryPolicy>;
  readonly run: (ctx: HandlingContext) => Promise<void>;
}

interface Route {
  readonly source: Source;
  /** Subscriber group; for a command queue, the group of its handler class (the inbox key). */
  readonly group: string;
  readonly concurrency: number;
  readonly bindings: Map<string, Binding>;
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

/** How many redelivered messages a route remembers the tries of; older ones fall back to an estimate. */
const REMEMBERED_TRIES = 10_000;

type State = 'created' | 'starting' | 'started' | 'stopping' | 'stopped';

const RESERVED_PREFIXES = ['ce_', 'ce-', 'cloudevents_', 'cloudevents:', 'omnibus-error-'];

/**
 * The bus: publishes events, sends commands, and runs the decorated handlers. One bus per service
 * instance; it provisions the topology its handlers need on `start` and the destinations it publishes
 * to on first use.
 */
/** What `bus.transaction` gives its work: the transaction and a publisher that joins it. */
export interface TransactionScope<Tx = unknown> {
  readonly tx: Tx;
  readonly publish: Bus['publish'];
  readonly send: Bus['send'];
}

export class Bus<Tx = unknown> {
  readonly stats: BusStats = {
    received: 0,
    handled: 0,
    retried: 0,
    deadLettered: 0,
    unknownType: 0,
    duplicates: 0,
    notForThisGroup: 0,
  };
  readonly transport: Transport;
  readonly serviceName: string;
  readonly #options: BusOptions<Tx>;
  readonly #logger: Logger;
  readonly #serializers: SerializerRegistry;
  readonly #resolve: (handlerClass: HandlerClass) => object;
  readonly #routes: Route[] = [];
  readonly #provisioned = new Map<string, Promise<void>>();
  readonly #ready = new Set<string>();
  /** The same, by the destination object each contract keeps (see `destinationOf`): no string per publish. */
  readonly #readyDestinations = new WeakSet<Destination>();
  readonly #defaultPolicy: Required<RetryPolicy>;
  #state: State = 'created';
  #relay: OutboxRelay | undefined;
  /** What is scheduled: list, get, cancel, reschedule (see docs/scheduling.md). */
  readonly schedules: BusSchedules;
  /** Without persistence, schedules are in-process timers: a memory table released by the bus's relay. */
  readonly #inProcess: { outbox: MemoryOutbox; schedules: MemoryScheduleStore } | undefined;

  constructor(options: BusOptions<Tx>) {
    validateBusOptions(options);
    this.#options = options;
    this.transport = options.transport;
    this.serviceName = options.serviceName;
    this.#logger = options.logger ?? defaultLogger();
    this.#serializers = new SerializerRegistry([new JsonSerializer(), ...(options.serializers ?? [])]);
    this.#resolve = options.resolveHandler ?? ((handlerClass) => new handlerClass());
    this.#defaultPolicy = {
      attempts: options.retry?.attempts ?? 5,
      immediate: options.retry?.immediate ?? 0,
      backoff: options.retry?.backoff ?? exponential(),
    };
    for (const handlerClass of options.handlers ?? []) this.#addHandlerClass(handlerClass);
    if (options.persistence === undefined) {
      const outbox = new MemoryOutbox(systemClock);
      this.#inProcess = { outbox, schedules: new MemoryScheduleStore(outbox, systemClock) };
    }
    this.schedules = new BusSchedules(() => this.#scheduleStore());
  }

  get state(): State {
    return this.#state;
  }

  /**
   * Checks that every handler class resolves (one instance each, discarded), connects, provisions what
   * the handlers need, and starts one consumer per source.
   */
  async start(): Promise<void> {
    if (this.#state !== 'created') throw new ConfigurationError('start', `bus is ${this.#state}`);
    this.#state = 'starting';
    try {
      this.#checkHandlersResolve();
      await this.transport.connect();
      await this.transport.provision(this.#topology());
      for (const route of this.#routes) {
        route.consumer = await this.transport.consume(
          route.source,
          (delivery) => this.#sink(route, delivery),
          {
            concurrency: route.concurrency,
          },
        );
        route.breaker?.attach(route.consumer);
      }
      this.#relay = this.#createRelay();
      await this.#relay?.start();
      this.#state = 'started';
      this.#logger.info({ service: this.serviceName, consumers: this.#routes.length }, 'bus started');
    } catch (error) {
      this.#state = 'stopping';
      await Promise.allSettled(this.#routes.map((route) => route.consumer?.close() ?? Promise.resolve()));
      this.#state = 'stopped';
      throw error;
    }
  }

  /**
   * Resolves every handler class once, so a missing DI binding fails `start` (naming the class and what
   * the container said) instead of the first message, as a retriable failure, then dead letters.
   */
  #checkHandlersResolve(): void {
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

  /**
   * Graceful stop: consumers take no new deliveries; handlers in flight get `drainTimeoutMs` to finish
   * (their results are settled as usual); then the rest are aborted through `ctx.signal` and left
   * unsettled, so the broker delivers them again. Then the transport is closed.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    for (const route of this.#routes) route.consumer?.pause();
    const deadline = Date.now() + (this.#options.drainTimeoutMs ?? 30_000);
    await this.#waitForDrain(deadline);
    for (const route of this.#routes) {
      if (route.inFlight === 0) continue;
      route.stopping.abort(new TransportError('bus stopping', { code: 'BUS_STOPPING' }));
      // Handlers still running are abandoned, not awaited: one that ignores its signal must not hang
      // the shutdown. Their deliveries stay unsettled, so the broker delivers them again.
      for (const release of route.releases) release();
      route.releases.clear();
    }
    await Promise.all(this.#routes.map((route) => route.consumer?.close() ?? Promise.resolve()));
    for (const route of this.#routes) route.breaker?.dispose();
    // The relay stops after the handlers, so what they committed last is still published.
    await this.#relay?.stop();
    if (this.#options.closeTransport ?? true) await this.transport.close();
    this.#state = 'stopped';
    this.#logger.info({ service: this.serviceName, ...this.stats }, 'bus stopped');
  }

  async #waitForDrain(deadline: number): Promise<void> {
    while (this.#routes.some((route) => route.inFlight > 0) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        setTimeout(resolve, Math.max(0, Math.min(50, deadline - Date.now())));
      });
    }
  }

  #drained: (() => void) | undefined;
  #warnedInProcessSchedules = false;

  /**
   * Publishes an event. Inside `bus.transaction`, it joins the transaction; inside a handler, the
   * handler's outgoing messages (see `MessageContext`). Elsewhere it needs a started bus: before
   * `start()` has finished it rejects with `BusNotStartedError` (`BUS_NOT_STARTED`) and sends nothing.
   * With `deliverAt` or `delayMs` it is scheduled instead and resolves with the schedule.
   */
  publish<C extends EventContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: ImmediatePublishOptions,
  ): Promise<void>;
  publish<C extends EventContract>(
    contract: C,
    payload: PayloadOf<C>,
    options: SchedulePublishOptions,
  ): Promise<ScheduledMessage>;
  publish<C extends EventContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<PublishResult>;
  publish<C extends EventContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<PublishResult> {
    const ambient = currentPublisher();
    if (ambient !== undefined) return ambient.publish(contract, payload, options);
    if (this.#state === 'created' || this.#state === 'starting')
      return Promise.reject(new BusNotStartedError(this.#state));
    if (options?.deliverAt !== undefined || options?.delayMs !== undefined) {
      return this.scheduleMessage(contract, payload, options, undefined, undefined);
    }
    return this.#publishNow(contract, payload, options);
  }

  /** Sends a command to its queue. Inside a transaction or a handler, it joins it, as `publish` does. */
  send<C extends CommandContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: ImmediatePublishOptions,
  ): Promise<void>;
  send<C extends CommandContract>(
    contract: C,
    payload: PayloadOf<C>,
    options: SchedulePublishOptions,
  ): Promise<ScheduledMessage>;
  send<C extends CommandContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<PublishResult>;
  send<C extends CommandContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<PublishResult> {
    const ambient = currentPublisher();
    if (ambient !== undefined) return ambient.send(contract, payload, options);
    if (this.#state === 'created' || this.#state === 'starting')
      return Promise.reject(new BusNotStartedError(this.#state));
    if (options?.deliverAt !== undefined || options?.delayMs !== undefined) {
      return this.scheduleMessage(contract, payload, options, undefined, undefined);
    }
    return this.#publishNow(contract, payload, options);
  }

  /**
   * Schedules a message (internal: `publish`/`send` with `deliverAt` or `delayMs` come here). The due time
   * is validated before anything is built or written; the row joins `tx` when given. Without persistence,
   * a handler's schedules (`deferred`) are made only once it succeeds, like its other outgoing messages.
   */
  async scheduleMessage(
    contract: Contract,
    payload: unknown,
    options: PublishOptions,
    cause: MessageContext | undefined,
    tx: unknown,
    deferred?: ScheduledMessage[],
  ): Promise<ScheduledMessage> {
    const deliverAt = deliverAtOf(options, systemClock)!;
    const store = this.#scheduleStore();
    if (this.#inProcess !== undefined && !this.#warnedInProcessSchedules) {
      // Once, at the first schedule rather than at every start: most in-memory buses never schedule.
      this.#warnedInProcessSchedules = true;
      this.#logger.warn(
        { service: this.serviceName },
        'no persistence: scheduled messages are in-process timers and do not survive a restart',
      );
    }
    const message = await this.createMessage(contract, payload, options, cause);
    const scheduled = scheduledMessage(message, deliverAt, systemClock);
    if (this.#inProcess !== undefined && deferred !== undefined) deferred.push(scheduled);
    else await store.add(tx, [scheduled]);
    return scheduled;
  }

  #scheduleStore(): ScheduleStore {
    const store = this.#options.persistence?.schedules ?? this.#inProcess?.schedules;
    if (store === undefined) {
      throw new ConfigurationError('persistence.schedules', 'this persistence cannot schedule messages');
    }
    return store;
  }

  /**
   * Runs `work` in a unit of work (requires `persistence`): its writes through `scope.tx` and every
   * message published while it runs commit together — through `scope`, `bus.publish`/`bus.send` or an
   * `@Emits` method, all of which join the innermost transaction. A relay sends them after commit; if
   * `work` throws, nothing is sent.
   */
  async transaction<T>(work: (scope: TransactionScope<Tx>) => Promise<T>): Promise<T> {
    const persistence = this.#options.persistence;
    if (persistence === undefined)
      throw new ConfigurationError('persistence', 'bus.transaction needs persistence');
    const cause = currentMessageContext();
    return persistence.unitOfWork.transaction(async (tx) => {
      const outgoing: OutboxMessage[] = [];
      const enqueue = async (
        contract: Contract,
        payload: unknown,
        options?: PublishOptions,
      ): Promise<PublishResult> => {
        if (options?.deliverAt !== undefined || options?.delayMs !== undefined) {
          return this.scheduleMessage(contract, payload, options, cause, tx);
        }
        outgoing.push(await this.createMessage(contract, payload, options, cause));
      };
      const scope: TransactionScope<Tx> = {
        tx,
        publish: enqueue as TransactionScope<Tx>['publish'],
        send: enqueue as TransactionScope<Tx>['send'],
      };
      const result = await runWithMessageContext({ message: cause, publisher: scope }, () => work(scope));
      await persistence.outbox.add(tx, outgoing);
      return result;
    });
  }

  /** Builds the envelope of an outgoing message, inheriting correlation from `cause` when given. */
  createMessage(
    contract: Contract,
    payload: unknown,
    options: PublishOptions | undefined,
    cause: MessageContext | undefined,
  ): Promise<OutboxMessage> {
    try {
      const serializer = this.#serializers.forContract(contract);
      const encoded = encodeValidated(serializer, contract, payload);
      return this.#completeMessage(contract, payload, encoded, serializer.contentType, options, cause);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : toOmnibusError(error));
    }
  }

  /** Finishes a message from its encoding: waits for an asynchronous encoder and for provisioning. */
  async #completeMessage(
    contract: Contract,
    payload: unknown,
    encoded: Uint8Array | Promise<Uint8Array>,
    contentType: string,
    options: PublishOptions | undefined,
    cause: MessageContext | undefined,
  ): Promise<OutboxMessage> {
    // Awaiting only what is a promise keeps the synchronous (JSON) path free of extra microtasks.
    const body = encoded instanceof Uint8Array ? encoded : await encoded;
    const message: OutboxMessage = {
      destination: destinationOf(contract),
      envelope: this.#buildEnvelope(contract, payload, body, contentType, options, cause),
    };
    const provisioning = this.#ensureDestination(message.destination, contract.ordered);
    if (provisioning !== undefined) await provisioning;
    return message;
  }

  /**
   * The hot path of `publish`/`send`: no promise until the transport's when nothing needs waiting for;
   * otherwise the same encoding finishes asynchronously (a payload is never encoded twice).
   */
  #publishNow(contract: Contract, payload: unknown, options: PublishOptions | undefined): Promise<void> {
    let pending: Promise<OutboxMessage>;
    try {
      const serializer = this.#serializers.forContract(contract);
      const encoded = encodeValidated(serializer, contract, payload);
      const destination = destinationOf(contract);
      if (
        encoded instanceof Uint8Array &&
        this.#ensureDestination(destination, contract.ordered) === undefined
      ) {
        const envelope = this.#buildEnvelope(
          contract,
          payload,
          encoded,
          serializer.contentType,
          options,
          undefined,
        );
        return this.transport.publish(destination, [envelope]);
      }
      pending = this.#completeMessage(contract, payload, encoded, serializer.contentType, options, undefined);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : toOmnibusError(error));
    }
    return pending.then((message) => this.transport.publish(message.destination, [message.envelope]));
  }

  #buildEnvelope(
    contract: Contract,
    payload: unknown,
    body: Uint8Array,
    contentType: string,
    options: PublishOptions | undefined,
    cause: MessageContext | undefined,
  ): Envelope {
    const id = options?.id ?? uuidv7();
    const headers: Record<string, string> = {};
    if (options?.headers !== undefined) {
      for (const name in options.headers) {
        const lower = name.toLowerCase();
        if (RESERVED_PREFIXES.some((prefix) => lower.startsWith(prefix)) || lower === 'content-type') {
          throw new ConfigurationError(
            `headers.${name}`,
            'this header name is reserved for the transport bindings',
          );
        }
        headers[name] = options.headers[name]!;
      }
    }
    headers[Header.specVersion] = CLOUDEVENTS_SPEC_VERSION;
    headers[Header.source] = this.serviceName;
    headers[Header.time] = isoNow();
    headers[Header.contentType] = contentType;
    headers[Header.correlationId] = cause?.correlationId ?? id;
    if (cause !== undefined) headers[Header.causationId] = cause.messageId;
    const traceParent = cause?.headers[Header.traceParent];
    if (traceParent !== undefined) headers[Header.traceParent] ??= traceParent;
    if (options?.subject !== undefined) headers[Header.subject] = options.subject;
    const key = options?.key ?? contract.key?.(payload);
    return key === undefined
      ? { id, type: contract.type, headers, body }
      : { id, type: contract.type, key, headers, body };
  }

  /** Publishes messages now, grouped per destination, in order. */
  async dispatchOutgoing(messages: readonly OutboxMessage[]): Promise<void> {
    let start = 0;
    while (start < messages.length) {
      const destination = messages[start]!.destination;
      let end = start + 1;
      while (end < messages.length && sameDestination(messages[end]!.destination, destination)) end++;
      await this.transport.publish(
        destination,
        messages.slice(start, end).map((message) => message.envelope),
      );
      start = end;
    }
  }

  #createRelay(): OutboxRelay | undefined {
    const options = this.#options.outboxRelay;
    if (this.#inProcess !== undefined) {
      return new OutboxRelay({
        logger: this.#logger,
        ...(options === false ? {} : options),
        store: this.#inProcess.outbox,
        schedules: this.#inProcess.schedules,
        transport: this.transport,
      });
    }
    const outbox = this.#options.persistence?.outbox as Partial<OutboxStore> | undefined;
    if (options === false || typeof outbox?.claim !== 'function') return undefined;
    const schedules = this.#options.persistence?.schedules;
    return new OutboxRelay({
      logger: this.#logger,
      ...options,
      store: outbox as OutboxStore,
      ...(schedules === undefined ? {} : { schedules }),
      transport: this.transport,
    });
  }

  async health(): Promise<HealthReport> {
    let transport: HealthReport;
    try {
      transport = await this.transport.health();
    } catch (error) {
      transport = { status: 'down', details: { error: toOmnibusError(error).message } };
    }
    const running = this.#state === 'started';
    const status = !running ? 'down' : transport.status;
    return {
      status,
      details: {
        state: this.#state,
        transport: transport,
        consumers: this.#routes.map((route) => ({
          source: describeSource(route.source),
          inFlight: route.inFlight,
          circuit: route.breaker?.state ?? 'none',
        })),
        stats: { ...this.stats },
        ...(this.#relay === undefined ? {} : { outbox: await this.#relay.lag().catch(() => 'unavailable') }),
      },
    };
  }

  #addHandlerClass(handlerClass: HandlerClass): void {
    const subscriber = getSubscriberMetadata(handlerClass);
    if (subscriber === undefined) {
      throw new ConfigurationError(
        'handlers',
        `${handlerClass.name} has no @Subscriber({ group }) decorator`,
      );
    }
    const handlers = getHandlerMetadata(handlerClass);
    if (handlers.length === 0)
      throw new ConfigurationError('handlers', `${handlerClass.name} has no @Handle methods`);
    for (const handler of handlers) {
      const contract = handler.contract;
      const source: Source =
        contract.kind === 'event'
          ? { kind: 'subscription', channel: contract.channel, group: subscriber.group }
          : { kind: 'queue', queue: contract.queue };
      let route = this.#routes.find((r) => describeSource(r.source) === describeSource(source));
      if (route === undefined) {
        route = {
          source,
          group: subscriber.group,
          concurrency: subscriber.concurrency ?? this.#options.concurrency ?? 16,
          bindings: new Map(),
          breaker:
            this.#options.circuitBreaker === undefined
              ? undefined
              : new CircuitBreaker(this.#options.circuitBreaker),
          stopping: new AbortController(),
          releases: new Set(),
          tries: new Map(),
          inFlight: 0,
        };
        this.#routes.push(route);
      }
      if (route.bindings.has(contract.type)) {
        throw new ConfigurationError(
          'handlers',
          `${contract.type} has two handlers on ${describeSource(source)}: one message type, one handler per consumer`,
        );
      }
      const policy: Required<RetryPolicy> = {
        attempts: handler.options.retry?.attempts ?? this.#defaultPolicy.attempts,
        immediate: handler.options.retry?.immediate ?? this.#defaultPolicy.immediate,
        backoff: handler.options.retry?.backoff ?? this.#defaultPolicy.backoff,
      };
      const binding: Binding = {
        contract,
        handlerClass,
        method: handler.method,
        options: { ...handler.options, retry: policy },
        policy,
        run: compose(this.#middlewareFor(route, handler.options, policy), (ctx) =>
          this.#invoke(binding, ctx),
        ),
      };
      route.bindings.set(contract.type, binding);
    }
  }

  /**
   * The documented order: correlation → circuit breaker → timeout → immediate retry → unit of work →
   * yours. A layer with nothing to do for this handler (no timeout, no immediate retries) is left out.
   */
  #middlewareFor(route: Route, options: HandleOptions, policy: Required<RetryPolicy>): Middleware[] {
    const chain: Middleware[] = [correlation];
    if (route.breaker !== undefined) chain.push(route.breaker.middleware);
    if ((options.timeoutMs ?? this.#options.timeoutMs) !== undefined)
      chain.push(timeout(this.#options.timeoutMs));
    if (policy.immediate > 0) chain.push(immediateRetry);
    if (this.#options.persistence !== undefined)
      chain.push(unitOfWork(this.#options.persistence, route.group));
    chain.push(...(this.#options.middleware ?? []));
    return chain;
  }

  /** Calls the handler method. Not `async`: a synchronous handler costs no extra promise or microtask. */
  #invoke(binding: Binding, ctx: HandlingContext): Promise<void> {
    try {
      outgoingOf(ctx.message).length = 0; // an immediate retry starts with nothing published
      (ctx.message as HandlerMessageContext)[SCHEDULED].length = 0;
      ctx.calls++;
      const instance = this.#resolve(binding.handlerClass) as Record<string | symbol, unknown>;
      const method = instance[binding.method];
      if (typeof method !== 'function') {
        throw new ConfigurationError(
          'handlers',
          `${binding.handlerClass.name}.${String(binding.method)} is not a method`,
        );
      }
      const result: unknown = (method as (payload: unknown, ctx: MessageContext) => unknown).call(
        instance,
        ctx.payload,
        ctx.message,
      );
      if (result instanceof Promise) return result as Promise<void>;
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function')
        return Promise.resolve(result).then(() => undefined);
      return DONE;
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : toOmnibusError(error));
    }
  }

  #topology(): Topology {
    const channels = new Map<string, boolean>();
    const queues = new Map<string, { ordered: boolean; maxDeliveries: number }>();
    const subscriptions: { channel: string; group: string; types: string[]; maxDeliveries: number }[] = [];
    for (const route of this.#routes) {
      const bindings = [...route.bindings.values()];
      const ordered = bindings.some((b) => b.contract.ordered);
      // The broker's own dead-lettering (SQS redrive, Pub/Sub policy) is a backstop for consumers that
      // crash before settling: it must not fire before the bus has used its own retry budget.
      const maxDeliveries = Math.max(...bindings.map((b) => b.policy.attempts)) + 1;
      if (route.source.kind === 'subscription') {
        channels.set(route.source.channel, (channels.get(route.source.channel) ?? false) || ordered);
        subscriptions.push({
          channel: route.source.channel,
          group: route.source.group,
          types: bindings.map((b) => b.contract.type),
          maxDeliveries,
        });
      } else if (route.source.kind === 'queue') {
        queues.set(route.source.queue, { ordered, maxDeliveries });
      }
    }
    for (const name of channels.keys()) this.#ready.add(`channel:${name}`);
    for (const name of queues.keys()) this.#ready.add(`queue:${name}`);
    return {
      channels: [...channels].map(([name, ordered]) => ({ name, ordered })),
      queues: [...queues].map(([name, q]) => ({ name, ...q })),
      subscriptions,
    };
  }

  /** Provisions a destination on first use; undefined once it is known to exist (the hot path). */
  #ensureDestination(destination: Destination, ordered: boolean): Promise<void> | undefined {
    if (this.#readyDestinations.has(destination)) return undefined;
    const key =
      destination.kind === 'channel' ? `channel:${destination.channel}` : `queue:${destination.queue}`;
    if (this.#ready.has(key)) {
      this.#readyDestinations.add(destination);
      return undefined;
    }
    let provisioned = this.#provisioned.get(key);
    if (provisioned === undefined) {
      provisioned = this.transport
        .provision(
          destination.kind === 'channel'
            ? { channels: [{ name: destination.channel, ordered }] }
            : { queues: [{ name: destination.queue, ordered }] },
        )
        .then(() => void this.#ready.add(key));
      this.#provisioned.set(key, provisioned);
      provisioned.catch(() => this.#provisioned.delete(key));
    }
    return provisioned;
  }

  /** The transport's sink: returns when the handling has settled its delivery, or `stop` abandoned it. */
  #sink(route: Route, delivery: Delivery): Promise<void> {
    route.inFlight++;
    this.stats.received++;
    return this.#handle(route, delivery).then(
      () => this.#handled(route),
      (error: unknown) => {
        // Settling failed (the broker is gone): the delivery stays unsettled and comes back. Never crash.
        this.#logger.error(
          {
            messageId: delivery.envelope.id,
            source: describeSource(route.source),
            error: toOmnibusError(error).message,
          },
          'could not settle delivery',
        );
        this.#handled(route);
      },
    );
  }

  #handled(route: Route): void {
    route.inFlight--;
    if (route.inFlight === 0) this.#drained?.();
  }

  /**
   * `step` itself when it is already settled (`DONE`: a synchronous handler, the memory transport's
   * settle), else a promise that settles with it or, at the drain deadline, when `stop` abandons the
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

  async #handle(route: Route, delivery: Delivery): Promise<void> {
    const envelope = delivery.envelope;
    const target = envelope.headers[Header.targetGroup];
    if (target !== undefined && route.source.kind === 'subscription' && target !== route.group) {
      this.stats.notForThisGroup++;
      return this.#abandonable(route, delivery.ack());
    }
    if (!envelope.type) {
      return this.#abandonable(
        route,
        this.#deadLetter(
          route,
          delivery,
          new DeserializationError('message has no type', { code: 'MISSING_HEADER' }),
        ),
      );
    }
    if (!envelope.id) {
      return this.#abandonable(
        route,
        this.#deadLetter(
          route,
          delivery,
          new DeserializationError('message has no id', { code: 'MISSING_HEADER' }),
        ),
      );
    }
    const binding = route.bindings.get(envelope.type);
    if (binding === undefined) {
      this.stats.unknownType++;
      // A queue belongs to one service: a type none of its handlers takes is a routing mistake. On a
      // channel other groups' types pass by, and acking them is right.
      if (route.source.kind === 'queue') {
        const error = new UnknownMessageTypeError(envelope.type, describeSource(route.source));
        return this.#abandonable(route, this.#deadLetter(route, delivery, error));
      }
      this.#logger.debug(
        { type: envelope.type, source: describeSource(route.source) },
        'no handler for type: acked',
      );
      return this.#abandonable(route, delivery.ack());
    }
    const before =
      delivery.attempt === 1
        ? 0
        : triesBefore(delivery.attempt, route.tries.get(envelope.id), binding.policy);
    let payload: unknown;
    try {
      const serializer = this.#serializers.forContentType(envelope.headers[Header.contentType]);
      payload = decodeValidated(serializer, binding.contract, envelope.body);
      if (payload instanceof Promise) {
        payload = await this.#abandonable(route, payload as Promise<unknown>);
        if (route.stopping.signal.aborted) return; // abandoned at the drain deadline
      }
    } catch (error) {
      if (route.stopping.signal.aborted) return; // left unsettled: released for redelivery on close
      // Undecodable bytes are non-retriable and dead-letter at once; a retriable failure (a schema
      // registry that is briefly unreachable) is retried like a handler failure.
      return this.#abandonable(route, this.#fail(route, binding.policy, delivery, before, 0, error));
    }
    const message = new HandlerMessageContext(this, delivery, route, envelope);
    const ctx: HandlingContext & { [DUPLICATE]?: boolean } = {
      delivery,
      envelope,
      contract: binding.contract,
      options: binding.options,
      payload,
      triesBefore: before,
      calls: 0,
      message,
    };
    try {
      await this.#abandonable(route, binding.run(ctx));
      if (route.stopping.signal.aborted) return; // abandoned at the drain deadline: its consumer is gone
      if (ctx[DUPLICATE] === true) {
        this.stats.duplicates++;
        return this.#abandonable(route, delivery.ack());
      }
      const outgoing = outgoingOf(message);
      if (this.#options.persistence === undefined && outgoing.length > 0) {
        await this.#abandonable(route, this.dispatchOutgoing(outgoing));
        if (route.stopping.signal.aborted) return;
      }
      const scheduled = message[SCHEDULED];
      if (this.#inProcess !== undefined && scheduled.length > 0) {
        await this.#inProcess.schedules.add(undefined, scheduled.splice(0));
      }
    } catch (error) {
      if (route.stopping.signal.aborted) return; // left unsettled: released for redelivery on close
      return this.#abandonable(route, this.#fail(route, binding.policy, delivery, before, ctx.calls, error));
    }
    this.stats.handled++;
    if (delivery.attempt > 1) route.tries.delete(envelope.id);
    return this.#abandonable(route, delivery.ack());
  }

  async #fail(
    route: Route,
    policy: Required<RetryPolicy>,
    delivery: Delivery,
    before: number,
    calls: number,
    thrown: unknown,
  ): Promise<void> {
    const outcome = failureOutcome(thrown, { delivery: delivery.attempt, before, calls }, policy, {
      circuitCooldownMs: this.#options.circuitBreaker?.cooldownMs ?? 30_000,
    });
    const id = delivery.envelope.id;
    if (outcome.kind === 'deadLetter') {
      route.tries.delete(id);
      return this.#deadLetter(route, delivery, outcome.error, outcome.attempts);
    }
    this.stats.retried++;
    route.tries.delete(id);
    if (route.tries.size >= REMEMBERED_TRIES) route.tries.delete(route.tries.keys().next().value!);
    route.tries.set(id, outcome.tries);
    this.#logger.warn(
      {
        messageId: id,
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
    thrown: unknown,
    attempts = delivery.attempt,
  ): Promise<void> {
    const error = toOmnibusError(thrown);
    this.stats.deadLettered++;
    this.#logger.error(
      {
        messageId: delivery.envelope.id,
        type: delivery.envelope.type,
        source: describeSource(route.source),
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

/** A handler's schedules without persistence, held until it succeeds. */
const SCHEDULED = Symbol('omnibus:scheduled');

/** What an abandoned step resolves to. */
const ABANDONED = Promise.resolve(undefined);

const destinations = new WeakMap<Contract, Destination>();
/** The destination of a contract, made once per contract (it is on every publish). */
function destinationOf(contract: Contract): Destination {
  let destination = destinations.get(contract);
  if (destination === undefined) {
    destination =
      contract.kind === 'event'
        ? { kind: 'channel', channel: contract.channel }
        : { kind: 'queue', queue: contract.queue };
    destinations.set(contract, destination);
  }
  return destination;
}

let lastMillis = 0;
let lastIso = '';
/** `new Date().toISOString()`, computed once per millisecond: it is on every publish. */
function isoNow(): string {
  const now = Date.now();
  if (now !== lastMillis) {
    lastMillis = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

function sameDestination(a: Destination, b: Destination): boolean {
  return a.kind === 'channel'
    ? b.kind === 'channel' && a.channel === b.channel
    : b.kind === 'queue' && a.queue === b.queue;
}

/** The `MessageContext` of one delivery. Plain fields, so middleware can overlay `tx` and `signal`. */
class HandlerMessageContext implements MessageContext {
  readonly messageId: string;
  readonly type: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly attempt: number;
  readonly correlationId: string;
  readonly causationId: string | undefined;
  readonly group: string | undefined;
  readonly signal: AbortSignal;
  readonly tx: unknown = undefined;
  readonly [OUTGOING]: OutboxMessage[] = [];
  /** Without persistence: what the handler scheduled, made once it succeeds. */
  readonly [SCHEDULED]: ScheduledMessage[] = [];

  constructor(
    private readonly bus: Bus,
    delivery: Delivery,
    route: Route,
    readonly envelope: Envelope,
  ) {
    this.messageId = envelope.id;
    this.type = envelope.type;
    this.headers = envelope.headers;
    this.attempt = delivery.attempt;
    this.correlationId = envelope.headers[Header.correlationId] ?? envelope.id;
    this.causationId = envelope.headers[Header.causationId];
    this.group = route.source.kind === 'subscription' ? route.group : undefined;
    this.signal = route.stopping.signal;
  }

  async publish<C extends EventContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<PublishResult> {
    if (options?.deliverAt !== undefined || options?.delayMs !== undefined) {
      return this.bus.scheduleMessage(contract, payload, options, this, this.tx, this[SCHEDULED]);
    }
    this[OUTGOING].push(await this.bus.createMessage(contract, payload, options, this));
  }

  async send<C extends CommandContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<PublishResult> {
    if (options?.deliverAt !== undefined || options?.delayMs !== undefined) {
      return this.bus.scheduleMessage(contract, payload, options, this, this.tx, this[SCHEDULED]);
    }
    this[OUTGOING].push(await this.bus.createMessage(contract, payload, options, this));
  }
}
