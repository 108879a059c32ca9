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
} from '@omnibus/core';
import {
  ConfigurationError,
  Handle,
  Subscriber,
  silentLogger,
  systemClock,
  toOmnibusError,
} from '@omnibus/core';
import type { TimeoutScheduler } from './saga-context.js';
import { readData } from './saga-data.js';
import type { SagaClass, SagaDefinition, SagaTimeoutMessage } from './saga-definition.js';
import { sagaDefinitionOf } from './saga-definition.js';
import type { SagaStats, StepEnvironment } from './saga-step.js';
import { emptyStats, runMessageStep, runTimeoutStep } from './saga-step.js';

export interface SagaRuntimeOptions {
  /** Where instances live: `MemorySagaStore`, `SqliteSagaStore` or `PostgresSagaStore`, on the bus's persistence. */
  readonly store: SagaStore;
  readonly sagas: readonly SagaClass[];
  /** Sends timeouts for later; without it `requestTimeout` is a `ConfigurationError`. */
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
    this.#env = {
      store: options.store,
      clock: options.clock ?? systemClock,
      scheduler: options.scheduler,
      logger: options.logger ?? silentLogger,
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
    setImmediate(() => {
      this.purgeExpired()
        .catch((error: unknown) => {
          this.#env.logger.warn({ error: toOmnibusError(error).message }, 'saga purge failed');
        })
        .finally(() => {
          this.#purging = false;
        });
    });
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
        cancelLater(env, (await runMessageStep(env, definition, step, payload, message)).obsoleteSchedules);
        this.#purgeWhenDue();
      };
      const { correlate: _correlate, ...handleOptions } = step.options;
      decorate(compiled, method, handleOptions, step.contract);
    }
    if (definition.timeouts.size > 0) {
      const method = 'timeout';
      prototype[method] = async (payload: SagaTimeoutMessage, message: MessageContext): Promise<void> => {
        cancelLater(env, (await runTimeoutStep(env, definition, payload, message)).obsoleteSchedules);
        this.#purgeWhenDue();
      };
      decorate(compiled, method, {}, definition.timeoutContract);
    }
    Subscriber({ group: definition.name })(compiled);
    return compiled;
  }
}

/**
 * Cancels obsolete schedules after the step, not inside it: the scheduler may need the connection the
 * step holds (SQLite), and should the step still roll back the cancel was harmless — the token check
 * ignores a timeout the state no longer waits for. So a failed cancel is logged, never thrown.
 */
function cancelLater(env: StepEnvironment, scheduleIds: readonly string[]): void {
  const scheduler = env.scheduler;
  if (scheduler === undefined || scheduleIds.length === 0) return;
  setImmediate(() => {
    for (const id of scheduleIds) {
      scheduler.cancel(id).catch((error: unknown) => {
        env.logger.warn(
          { scheduleId: id, error: toOmnibusError(error).message },
          'saga timeout cancel failed',
        );
      });
    }
  });
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
