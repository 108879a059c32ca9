import { AsyncLocalStorage } from 'node:async_hooks';
import type {
  Clock,
  HandleOptions,
  HandlerClass,
  Logger,
  MessageContext,
  SagaListOptions,
  SagaRecord,
  SagaStatus,
  SagaStore,
  ScheduleStore,
  TelemetryOptions,
} from '@omnibus/core';
import {
  ConfigurationError,
  Handle,
  MessageTracer,
  observeSagaInstances,
  Subscriber,
  defaultLogger,
  systemClock,
  toOmnibusError,
} from '@omnibus/core';
import type { TimeoutScheduler } from './saga-context.js';
import { readData } from './saga-data.js';
import { ScheduledTimeouts } from './scheduled-timeouts.js';
import type { SagaClass, SagaDefinition, SagaTimeoutMessage } from './saga-definition.js';
import { sagaDefinitionOf } from './saga-definition.js';
import type { SagaStats, StepEnvironment, StepResult } from './saga-step.js';
import { emptyStats, runMessageStep, runTimeoutStep } from './saga-step.js';

export interface SagaRuntimeOptions {
  /** Where instances live: `MemorySagaStore`, `SqliteSagaStore` or `PostgresSagaStore`, on the bus's persistence. */
  readonly store: SagaStore;
  readonly sagas: readonly SagaClass[];
  /**
   * The persistence's scheduled-messages table (`persistence.schedules`): timeouts a saga no longer waits
   * for (cancelled, replaced, completed) are cancelled there. Without it they still fire, and are ignored.
   */
  readonly schedules?: ScheduleStore;
  /**
   * Sends timeouts for later. Default {@link ScheduledTimeouts}: the bus's scheduled messages, written in
   * the step's transaction (durable on SQLite and PostgreSQL), cancelled through `schedules`.
   */
  readonly scheduler?: TimeoutScheduler;
  /** How long completed instances are kept (for `get`, `list` and the CLI) before they are purged. Default 7 days. */
  readonly retentionMs?: number;
  /**
   * How often the runtime purges expired instances: after a step, once this long has passed since the
   * last purge (so an idle service purges nothing, and each process purges at most this often).
   * Default 1 minute.
   */
  readonly purgeIntervalMs?: number;
  /** Makes the saga object for a step. Default `new SagaClass()`. */
  readonly instantiate?: (sagaClass: SagaClass) => object;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Where step spans go; default the global OpenTelemetry tracer provider (a no-op without an SDK). */
  readonly telemetry?: TelemetryOptions;
}

/** An instance as `get` and `list` show it. */
export interface SagaInstance<State = unknown> {
  readonly saga: string;
  readonly key: string;
  readonly version: number;
  readonly status: SagaStatus;
  readonly state: State;
  readonly pendingTimeouts: readonly { readonly name: string; readonly dueAt: Date }[];
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly completedAt?: Date;
}

/**
 * Runs sagas on a bus. Each saga becomes an ordinary handler class (`handlers`: pass them to the bus),
 * subscriber group = the saga's name, so retries, the inbox, the unit of work, dead letters, the circuit
 * breaker and shutdown apply to saga steps exactly as to any handler. The bus needs persistence, and the
 * store must work on that persistence's transactions.
 */
export class SagaRuntime {
  readonly stats: SagaStats = emptyStats();
  readonly handlers: readonly HandlerClass[];
  readonly #definitions = new Map<string, SagaDefinition>();
  readonly #env: StepEnvironment;
  readonly #retentionMs: number;
  readonly #purgeIntervalMs: number;
  #nextPurgeAt = 0;
  /**
   * Runs work after a step outside the step's async context: a store that knows it is inside a
   * transaction by that context (SQLite) would refuse the cancel or purge otherwise.
   */
  readonly #outsideStep = AsyncLocalStorage.snapshot();
  readonly #tracer: MessageTracer;
  #purging = false;

  constructor(options: SagaRuntimeOptions) {
    if (options === null || typeof options !== 'object')
      throw new ConfigurationError('options', 'must be an object');
    const store = options.store as Partial<SagaStore> | undefined;
    if (typeof store?.load !== 'function' || typeof store.save !== 'function')
      throw new ConfigurationError('store', 'must implement SagaStore');
    if (!Array.isArray(options.sagas) || options.sagas.length === 0)
      throw new ConfigurationError('sagas', 'must list at least one @Saga class');
    this.#retentionMs = options.retentionMs ?? 7 * 24 * 3_600_000;
    if (!(this.#retentionMs > 0))
      throw new ConfigurationError('retentionMs', `must be > 0, got ${String(this.#retentionMs)}`);
    this.#purgeIntervalMs = options.purgeIntervalMs ?? 60_000;
    if (!(this.#purgeIntervalMs > 0)) {
      throw new ConfigurationError('purgeIntervalMs', `must be > 0, got ${String(this.#purgeIntervalMs)}`);
    }
    const instantiate = options.instantiate ?? ((sagaClass: SagaClass) => new sagaClass());
    this.#tracer = new MessageTracer(options.telemetry);
    this.#env = {
      store: options.store,
      clock: options.clock ?? systemClock,
      scheduler: options.scheduler ?? new ScheduledTimeouts(options.schedules),
      logger: options.logger ?? defaultLogger(),
      stats: this.stats,
      instantiate: (definition) => instantiate(definition.sagaClass),
    };
    for (const sagaClass of options.sagas as readonly SagaClass[]) {
      const definition = sagaDefinitionOf(sagaClass);
      if (this.#definitions.has(definition.name))
        throw new ConfigurationError('sagas', `two sagas are named ${definition.name}`);
      this.#definitions.set(definition.name, definition);
    }
    this.handlers = [...this.#definitions.values()].map((definition) => this.#compile(definition));
    observeSagaInstances(options.telemetry, [...this.#definitions.keys()], options.store);
  }

  /** One instance, or undefined. Its state is read as a step would read it (`readState` applies). */
  async get<State = unknown>(saga: string, key: string): Promise<SagaInstance<State> | undefined> {
    const definition = this.#definition(saga);
    const record = await this.#env.store.get(saga, key);
    return record === undefined ? undefined : toInstance<State>(definition, record);
  }

  /** Instances of `saga`, newest update first. */
  async list<State = unknown>(saga: string, options?: SagaListOptions): Promise<SagaInstance<State>[]> {
    const definition = this.#definition(saga);
    const records = await this.#env.store.list(saga, options);
    return records.map((record) => toInstance<State>(definition, record));
  }

  /** Deletes instances completed longer than `retentionMs` ago; returns how many. Steps call it on their own. */
  async purgeExpired(): Promise<number> {
    const purged = await this.#env.store.purgeCompleted(new Date(this.#env.clock.now() - this.#retentionMs));
    this.stats.purged += purged;
    return purged;
  }

  /** After a step: purges in the background once `purgeIntervalMs` has passed; a failure is logged. */
  #purgeWhenDue(): void {
    const now = this.#env.clock.now();
    if (this.#purging || now < this.#nextPurgeAt) return;
    this.#nextPurgeAt = now + this.#purgeIntervalMs;
    this.#purging = true;
    setImmediate(() =>
      this.#outsideStep(() => {
        this.purgeExpired()
          .catch((error: unknown) => {
            this.#env.logger.warn({ error: toOmnibusError(error).message }, 'saga purge failed');
          })
          .finally(() => {
            this.#purging = false;
          });
      }),
    );
  }

  #definition(saga: string): SagaDefinition {
    const definition = this.#definitions.get(saga);
    if (definition === undefined)
      throw new ConfigurationError('saga', `no saga named ${JSON.stringify(saga)} is registered`);
    return definition;
  }

  /** The handler class of one saga: decorated through the public `Subscriber`/`Handle` API. */
  #compile(definition: SagaDefinition): HandlerClass {
    const env = this.#env;
    const compiled = { [`${definition.sagaClass.name}Handlers`]: class {} }[
      `${definition.sagaClass.name}Handlers`
    ]!;
    const prototype = compiled.prototype as Record<string, unknown>;
    for (const step of definition.steps.values()) {
      const method = `step:${step.contract.type}`;
      prototype[method] = async (payload: unknown, message: MessageContext): Promise<void> => {
        const result = await this.#traced(definition, step.contract.type, message, () =>
          runMessageStep(env, definition, step, payload, message),
        );
        cancelWhenReleased(env, this.#outsideStep, definition, result.key, result.obsoleteSchedules);
        this.#purgeWhenDue();
      };
      const { correlate: _correlate, ...handleOptions } = step.options;
      decorate(compiled, method, handleOptions, step.contract);
    }
    if (definition.timeouts.size > 0) {
      const method = 'timeout';
      prototype[method] = async (payload: SagaTimeoutMessage, message: MessageContext): Promise<void> => {
        const result = await this.#traced(definition, `timeout ${String(payload?.name)}`, message, () =>
          runTimeoutStep(env, definition, payload, message),
        );
        cancelWhenReleased(env, this.#outsideStep, definition, result.key, result.obsoleteSchedules);
        this.#purgeWhenDue();
      };
      decorate(compiled, method, {}, definition.timeoutContract);
    }
    Subscriber({ group: definition.name })(compiled);
    return compiled;
  }

  /** A step as a span `saga <name>`, child of the message's handling, with the saga's name, key and version. */
  #traced(
    definition: SagaDefinition,
    step: string,
    message: MessageContext,
    work: () => Promise<StepResult>,
  ): Promise<StepResult> {
    const attributes = { 'omnibus.saga.name': definition.name, 'omnibus.saga.step': step };
    return this.#tracer.span(`saga ${definition.name}`, message, attributes, async (span) => {
      const result = await work();
      span.setAttributes({ 'omnibus.saga.key': result.key, 'omnibus.saga.outcome': result.outcome });
      if (result.version !== undefined) span.setAttribute('omnibus.saga.version', result.version);
      return result;
    });
  }
}

/** When the committed state is checked again before an obsolete schedule is cancelled, after a step. */
const CANCEL_CHECKS_MS = [0, 20, 100, 500, 2_000, 10_000];

/**
 * Cancels the schedules a step made obsolete, once the committed state no longer refers to them. Not
 * inside the step: the scheduler may need the connection the step holds (SQLite), and the step may still
 * roll back (its commit can fail after the method returned), in which case the state still waits for
 * those timeouts and cancelling them would lose them. So each check reads the committed instance: a
 * schedule it no longer lists is cancelled; one it still lists is looked at again later (the commit may
 * be under way), and left alone after the last check — should it fire, the token check ignores it
 * unless the state still waits for it. A failed cancel is logged, never thrown.
 */
function cancelWhenReleased(
  env: StepEnvironment,
  outsideStep: <R>(work: () => R) => R,
  definition: SagaDefinition,
  key: string,
  scheduleIds: readonly string[],
): void {
  const scheduler = env.scheduler;
  if (scheduler === undefined || scheduleIds.length === 0) return;
  let waiting = [...scheduleIds];
  const check = async (): Promise<void> => {
    const record = await env.store.get(definition.name, key);
    const stillListed = new Set(
      record === undefined
        ? []
        : readData(definition, key, record.data).timeouts.map((timeout) => timeout.scheduleId),
    );
    const released = waiting.filter((id) => !stillListed.has(id));
    waiting = waiting.filter((id) => stillListed.has(id));
    await Promise.all(released.map((id) => scheduler.cancel(id)));
  };
  const run = (attempt: number): void => {
    const timer = setTimeout(
      () =>
        outsideStep(() => {
          check()
            .catch((error: unknown) => {
              env.logger.warn(
                { saga: definition.name, key, error: toOmnibusError(error).message },
                'saga timeout cancel failed',
              );
            })
            .finally(() => {
              if (waiting.length > 0 && attempt + 1 < CANCEL_CHECKS_MS.length) run(attempt + 1);
            });
        }),
      CANCEL_CHECKS_MS[attempt],
    );
    timer.unref(); // a stopping process does not wait for it: a leftover timeout is ignored when it comes
  };
  run(0);
}

function decorate(
  compiled: HandlerClass,
  method: string,
  options: HandleOptions,
  contract: Parameters<typeof Handle>[0],
): void {
  const descriptor = Object.getOwnPropertyDescriptor(compiled.prototype, method)!;
  Handle(contract, options)(
    compiled.prototype as object,
    method,
    descriptor as TypedPropertyDescriptor<never>,
  );
}

function toInstance<State>(definition: SagaDefinition, record: SagaRecord): SagaInstance<State> {
  const data = readData(definition, record.key, record.data);
  return {
    saga: record.saga,
    key: record.key,
    version: record.version,
    status: record.status,
    state: data.state as State,
    pendingTimeouts: data.timeouts.map((timeout) => ({ name: timeout.name, dueAt: new Date(timeout.dueAt) })),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    ...(record.completedAt === undefined ? {} : { completedAt: record.completedAt }),
  };
}
