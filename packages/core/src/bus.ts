import { exponential } from './backoff.js';
import type { BusDescription } from './bus-description.js';
import { describeRoutes } from './bus-description.js';
import { BusNotStartedError } from './bus-errors.js';
import type { BusOptions } from './bus-options.js';
import { validateBusOptions } from './bus-options.js';
import { signingKeys } from './signing/signing-options.js';
import type { BusStats } from './bus-stats.js';
import { emptyStats } from './bus-stats.js';
import { systemClock } from './clock.js';
import type {
  CommandContract,
  Contract,
  EventContract,
  PayloadOf,
  QueryContract,
  ReplyOf,
} from './contracts.js';
import { Dispatcher } from './dispatcher.js';
import { ConfigurationError, TransportError, toOmnibusError } from './errors.js';
import { HandlerRegistry } from './handler-registry.js';
import type { Logger } from './logger.js';
import { defaultLogger } from './logger.js';
import { MemoryOutbox, MemoryScheduleStore } from './memory/memory-persistence.js';
import type { MessageContext, PublishOptions } from './message-context.js';
import { currentMessageContext, currentPublisher, runWithMessageContext } from './message-context.js';
import { OutboxRelay } from './outbox-relay.js';
import { Outgoing } from './outgoing.js';
import { Telemetry } from './telemetry/telemetry.js';
import type { OutboxMessage, OutboxStore } from './persistence.js';
import type { RequestOptions } from './request-reply/requester.js';
import { Requester } from './request-reply/requester.js';
import { Responder } from './request-reply/responder.js';
import type { ScheduledMessage, ScheduleStore } from './schedule-store.js';
import type { ImmediatePublishOptions, PublishResult, SchedulePublishOptions } from './scheduling.js';
import { BusSchedules, deliverAtOf, scheduledMessage } from './scheduling.js';
import { JsonSerializer, SerializerRegistry } from './serializer.js';
import type { HealthReport, Transport } from './transport.js';
import { describeSource } from './transport.js';

export type { BusStats } from './bus-stats.js';
export type { BusDescription, HandlerDescription } from './bus-description.js';
export { formatBusDescription } from './bus-description.js';

type State = 'created' | 'starting' | 'started' | 'stopping' | 'stopped';

/** What `bus.transaction` gives its work: the transaction and a publisher that joins it. */
export interface TransactionScope<Tx = unknown> {
  readonly tx: Tx;
  readonly publish: Bus['publish'];
  readonly send: Bus['send'];
}

/**
 * The bus: publishes events, sends commands, and runs the decorated handlers. One bus per service
 * instance; it provisions the topology its handlers need on `start` and the destinations it publishes
 * to on first use. A façade over its rooms: the handler registry (routes, handlers, topology), the
 * outgoing path (encode → envelope → destination → dispatch), the dispatcher (sink → handle → settle,
 * drain and abandon) and the failure policy (ack, retry or dead-letter).
 */
export class Bus<Tx = unknown> {
  readonly stats: BusStats = emptyStats();
  readonly transport: Transport;
  readonly serviceName: string;
  /** What is scheduled: list, get, cancel, reschedule (see docs/scheduling.md). */
  readonly schedules: BusSchedules;
  readonly #options: BusOptions<Tx>;
  readonly #logger: Logger;
  readonly #registry: HandlerRegistry;
  readonly #outgoing: Outgoing;
  readonly #dispatcher: Dispatcher;
  readonly #requester: Requester;
  readonly #telemetry: Telemetry;
  #stopObserving: (() => void) | undefined;
  /** Without persistence, schedules are in-process timers: a memory table released by the bus's relay. */
  readonly #inProcess: { outbox: MemoryOutbox; schedules: MemoryScheduleStore } | undefined;
  #state: State = 'created';
  #relay: OutboxRelay | undefined;
  #warnedInProcessSchedules = false;

  constructor(options: BusOptions<Tx>) {
    validateBusOptions(options);
    this.#options = options;
    this.transport = options.transport;
    this.serviceName = options.serviceName;
    this.#logger = options.logger ?? defaultLogger();
    const serializers = new SerializerRegistry([new JsonSerializer(), ...(options.serializers ?? [])]);
    this.#registry = new HandlerRegistry(
      options,
      options.resolveHandler ?? ((handlerClass) => new handlerClass()),
      {
        attempts: options.retry?.attempts ?? 5,
        immediate: options.retry?.immediate ?? 0,
        backoff: options.retry?.backoff ?? exponential(),
      },
    );
    if (options.persistence === undefined) {
      const outbox = new MemoryOutbox(systemClock);
      this.#inProcess = { outbox, schedules: new MemoryScheduleStore(outbox, systemClock) };
    }
    this.#telemetry = new Telemetry(this.transport.name, options.telemetry);
    const signing = options.signing === undefined ? undefined : signingKeys(options.signing);
    this.#outgoing = new Outgoing(this.transport, this.serviceName, serializers, this.#telemetry, signing);
    this.#requester = new Requester(this.transport, this.#outgoing, serializers, this.#logger, this.stats);
    this.#dispatcher = new Dispatcher({
      signing,
      telemetry: this.#telemetry,
      stats: this.stats,
      logger: this.#logger,
      serializers,
      outgoing: this.#outgoing,
      schedule: (contract, payload, publishOptions, cause, tx, deferred) =>
        this.#schedule(contract, payload, publishOptions, cause, tx, deferred),
      persistent: options.persistence !== undefined,
      inProcessSchedules: this.#inProcess?.schedules,
      conflictPolicy: {
        maxRetries: options.conflictRetry?.maxRetries ?? 200,
        backoff: options.conflictRetry?.backoff ?? exponential({ initialMs: 5, maxMs: 500 }),
      },
      circuitCooldownMs: options.circuitBreaker?.cooldownMs ?? 30_000,
      responder: new Responder({
        transport: this.transport,
        serviceName: this.serviceName,
        logger: this.#logger,
        includeStack: options.replies?.includeStack ?? false,
        counters: this.stats,
        telemetry: this.#telemetry,
      }),
      request: (contract, payload, requestOptions, cause) =>
        this.#requester.request(contract, payload, requestOptions, cause),
    });
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
    const routes = this.#registry.routes;
    try {
      this.#registry.checkResolvable();
      await this.transport.connect();
      const topology = this.#registry.topology();
      await this.transport.provision(topology);
      this.#outgoing.provisioned(topology);
      for (const route of routes) {
        route.consumer = await this.transport.consume(
          route.source,
          (delivery) => this.#dispatcher.sink(route, delivery),
          { concurrency: route.concurrency },
        );
        route.breaker?.attach(route.consumer);
      }
      this.#relay = this.#createRelay();
      await this.#relay?.start();
      const stopBreakers = this.#telemetry.observeBreakers(routes);
      const stopReplies = this.#telemetry.observeReplies(this.stats);
      this.#stopObserving = () => {
        stopBreakers();
        stopReplies();
      };
      this.#state = 'started';
      this.#logger.info({ service: this.serviceName, consumers: routes.length }, 'bus started');
    } catch (error) {
      this.#state = 'stopping';
      await Promise.allSettled(routes.map((route) => route.consumer?.close() ?? Promise.resolve()));
      this.#state = 'stopped';
      throw error;
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
    const routes = this.#registry.routes;
    for (const route of routes) route.consumer?.pause();
    await this.#dispatcher.drain(routes, Date.now() + (this.#options.drainTimeoutMs ?? 30_000));
    this.#dispatcher.abandon(routes);
    await Promise.all(routes.map((route) => route.consumer?.close() ?? Promise.resolve()));
    for (const route of routes) route.breaker?.dispose();
    this.#stopObserving?.();
    // The relay stops after the handlers, so what they committed last is still published.
    await this.#relay?.stop();
    await this.#requester.close(new TransportError('bus stopping', { code: 'BUS_STOPPING' }));
    if (this.#options.closeTransport ?? true) await this.transport.close();
    this.#state = 'stopped';
    this.#logger.info({ service: this.serviceName, ...this.stats }, 'bus stopped');
  }

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
      return this.#schedule(contract, payload, options, undefined, undefined);
    }
    return this.#outgoing.publishNow(contract, payload, options);
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
      return this.#schedule(contract, payload, options, undefined, undefined);
    }
    return this.#outgoing.publishNow(contract, payload, options);
  }

  /**
   * Asks a query and resolves with its reply: the request goes to the query's queue with this instance's
   * reply address (opened on the first request, deleted on `stop`). Rejects with `RemoteError` when the
   * handler threw, `TimeoutError` when no reply came within `timeoutMs` (default: the query's, else
   * 30 s), `NoResponderError` where the broker tells at once that nothing consumes the queue, and
   * `RequestAbortedError` when `signal` aborts. Inside a handler it keeps the handler's correlation and
   * causation, like `ctx.request`. Needs a started bus.
   */
  request<C extends QueryContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: RequestOptions,
  ): Promise<ReplyOf<C>> {
    if (this.#state !== 'started' && this.#state !== 'stopping')
      return Promise.reject(new BusNotStartedError(this.#state));
    return this.#requester.request(contract, payload, options, currentMessageContext()) as Promise<
      ReplyOf<C>
    >;
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
          return this.#schedule(contract, payload, options, cause, tx);
        }
        outgoing.push(await this.#outgoing.create(contract, payload, options, cause));
      };
      const scope: TransactionScope<Tx> = {
        tx,
        publish: enqueue as TransactionScope<Tx>['publish'],
        send: enqueue as TransactionScope<Tx>['send'],
      };
      const result = await runWithMessageContext({ handlerContext: cause, publisher: scope }, () =>
        work(scope),
      );
      await persistence.outbox.add(tx, outgoing);
      return result;
    });
  }

  /**
   * Schedules a message (internal: `publish`/`send` with `deliverAt` or `delayMs` come here). The due time
   * is validated before anything is built or written; the row joins `tx` when given. Without persistence,
   * a handler's schedules (`deferred`) are made only once it succeeds, like its other outgoing messages.
   */
  async #schedule(
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
    const message = await this.#outgoing.create(contract, payload, options, cause);
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

  #createRelay(): OutboxRelay | undefined {
    const options = this.#options.outboxRelay;
    if (this.#inProcess !== undefined) {
      return new OutboxRelay({
        logger: this.#logger,
        ...(this.#options.telemetry === undefined ? {} : { telemetry: this.#options.telemetry }),
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
      ...(this.#options.telemetry === undefined ? {} : { telemetry: this.#options.telemetry }),
      ...options,
      store: outbox as OutboxStore,
      ...(schedules === undefined ? {} : { schedules }),
      transport: this.transport,
    });
  }

  /**
   * What this bus is made of, as data: every handler with its group, source, middleware chain, retry
   * policy and timeout, and the topology it provisions at `start`. `formatBusDescription` makes it text.
   * Available before `start`.
   */
  describe(): BusDescription {
    return {
      service: this.serviceName,
      transport: this.transport.constructor.name,
      persistence: this.#options.persistence?.constructor.name,
      handlers: describeRoutes(this.#registry.routes, this.#options.timeoutMs),
      topology: this.#registry.topology(),
    };
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
        consumers: this.#registry.routes.map((route) => ({
          source: describeSource(route.source),
          inFlight: route.inFlight,
          circuit: route.breaker?.state ?? 'none',
        })),
        stats: { ...this.stats },
        replies: {
          address: await this.#requester.address().catch(() => undefined),
          pending: this.#requester.pending,
        },
        ...(this.#relay === undefined ? {} : { outbox: await this.#relay.lag().catch(() => 'unavailable') }),
      },
    };
  }
}
