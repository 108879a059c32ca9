import type {
  Clock,
  CommandContract,
  Contract,
  Envelope,
  EventContract,
  MemoryTransaction,
  MessageContext,
  PayloadOf,
  PublishOptions,
} from '@omnibus/core';
import { ConfigurationError, MemoryPersistence, silentLogger, toOmnibusError, uuidv7 } from '@omnibus/core';
import type { OmnibusError } from '@omnibus/core';
import { MemorySagaStore } from '../memory-saga-store.js';
import type { TimeoutScheduler } from '../saga-context.js';
import type { SagaClass, SagaDefinition, SagaTimeoutMessage } from '../saga-definition.js';
import { sagaDefinitionOf } from '../saga-definition.js';
import { readData } from '../saga-data.js';
import type { SagaStats, StepEnvironment, StepOutcome, StepResult } from '../saga-step.js';
import { emptyStats, runMessageStep, runTimeoutStep } from '../saga-step.js';

/** A message a step sent or published, in the order the saga emitted them. */
export interface ScenarioMessage {
  readonly kind: 'command' | 'event';
  readonly type: string;
  readonly payload: unknown;
  readonly options?: PublishOptions;
  /** The instance whose step emitted it. */
  readonly key: string;
}

/** A timeout waiting on the virtual clock. */
export interface ScenarioTimeout {
  readonly key: string;
  readonly name: string;
  readonly dueAt: Date;
}

export interface SagaScenarioOptions {
  /** Where the virtual clock starts. Default 2026-01-01T00:00:00Z. */
  readonly start?: Date;
  /** Makes the saga object for a step (to give it fakes). Default `new SagaClass()`. */
  readonly instantiate?: (sagaClass: SagaClass) => object;
}

interface Scheduled {
  readonly id: string;
  readonly message: SagaTimeoutMessage;
  readonly dueAt: number;
}

/**
 * A saga under test, with no broker and no real time: `deliver` runs one step exactly as the bus would
 * (the same correlation, load, version check, save and failure rules, in a memory transaction that rolls
 * back when the step throws), records what it sent, published and scheduled, and `advance` moves a
 * virtual clock and fires the timeouts that fall due, in due order. What a failed step emitted is
 * dropped, as the outbox would drop it.
 */
export class SagaScenario {
  readonly stats: SagaStats = emptyStats();
  /** Everything the saga's committed steps emitted, in order. */
  readonly messages: ScenarioMessage[] = [];
  readonly #definition: SagaDefinition;
  readonly #persistence = new MemoryPersistence();
  readonly #store = new MemorySagaStore();
  readonly #scheduled = new Map<string, Scheduled>();
  readonly #env: StepEnvironment;
  #now: number;

  constructor(sagaClass: SagaClass, options: SagaScenarioOptions = {}) {
    this.#definition = sagaDefinitionOf(sagaClass);
    this.#now = (options.start ?? new Date('2026-01-01T00:00:00Z')).getTime();
    const clock: Clock = { now: () => this.#now };
    const instantiate = options.instantiate ?? ((cls: SagaClass) => new cls());
    this.#env = {
      store: this.#store,
      clock,
      scheduler: undefined, // per step, see #step
      logger: silentLogger,
      stats: this.stats,
      instantiate: (definition) => instantiate(definition.sagaClass),
    };
  }

  /** The virtual time. */
  get now(): Date {
    return new Date(this.#now);
  }

  /**
   * Delivers one message to the saga and returns what the step did: `'handled'`, or `'unmatched'` (no
   * such instance, or completed, with `unmatched: 'ack'`). A failing step rejects with the error the bus
   * would classify (e.g. code `SAGA_CORRELATION_FAILED`, non-retriable: a dead letter).
   */
  async deliver<C extends Contract>(contract: C, payload: PayloadOf<C>): Promise<StepOutcome> {
    const step = this.#definition.steps.get(contract.type);
    if (step === undefined || step.contract !== contract) {
      throw new ConfigurationError('deliver', `${this.#definition.name} has no step for ${contract.type}`);
    }
    return this.#step(contract.type, (env, message) =>
      runMessageStep(env, this.#definition, step, payload, message),
    );
  }

  /** Delivers a message that must fail, and returns the error (typed: `code`, `retriable`). */
  async deliverFailing<C extends Contract>(contract: C, payload: PayloadOf<C>): Promise<OmnibusError> {
    let outcome: StepOutcome;
    try {
      outcome = await this.deliver(contract, payload);
    } catch (error) {
      return toOmnibusError(error);
    }
    throw new Error(`expected ${contract.type} to fail, but the step ended ${outcome}`);
  }

  /** Moves the clock forward by `ms` and fires every timeout due by then, earliest first. */
  async advance(ms: number): Promise<ScenarioTimeout[]> {
    if (!(ms >= 0)) throw new ConfigurationError('advance', `must be >= 0 ms, got ${String(ms)}`);
    return this.advanceTo(new Date(this.#now + ms));
  }

  /** Moves the clock to `at` and fires every timeout due by then, earliest first; returns those that ran. */
  async advanceTo(at: Date): Promise<ScenarioTimeout[]> {
    const fired: ScenarioTimeout[] = [];
    for (;;) {
      const next = [...this.#scheduled.values()]
        .filter((scheduled) => scheduled.dueAt <= at.getTime())
        .sort((a, b) => a.dueAt - b.dueAt)[0];
      if (next === undefined) break;
      this.#scheduled.delete(next.id);
      this.#now = Math.max(this.#now, next.dueAt);
      const outcome = await this.#step(this.#definition.timeoutContract.type, (env, message) =>
        runTimeoutStep(env, this.#definition, next.message, message),
      );
      if (outcome === 'handled')
        fired.push({ key: next.message.key, name: next.message.name, dueAt: new Date(next.dueAt) });
    }
    this.#now = Math.max(this.#now, at.getTime());
    return fired;
  }

  /** Commands sent, optionally only of `contract`'s type, in order. */
  sent<C extends CommandContract>(contract?: C): PayloadOf<C>[] {
    return this.#payloads('command', contract);
  }

  /** Events published, optionally only of `contract`'s type, in order. */
  published<C extends EventContract>(contract?: C): PayloadOf<C>[] {
    return this.#payloads('event', contract);
  }

  /** Forgets the messages recorded so far (to assert on what the next steps emit). */
  clearMessages(): void {
    this.messages.length = 0;
  }

  /** The timeouts scheduled and not yet fired or cancelled, earliest first (of `key` when given). */
  timeouts(key?: string): ScenarioTimeout[] {
    return [...this.#scheduled.values()]
      .filter((scheduled) => key === undefined || scheduled.message.key === key)
      .sort((a, b) => a.dueAt - b.dueAt)
      .map((scheduled) => ({
        key: scheduled.message.key,
        name: scheduled.message.name,
        dueAt: new Date(scheduled.dueAt),
      }));
  }

  /** The committed state of instance `key`, or undefined when there is none. */
  async state<State>(key: string): Promise<State | undefined> {
    const record = await this.#store.get(this.#definition.name, key);
    return record === undefined ? undefined : (readData(this.#definition, key, record.data).state as State);
  }

  /** Whether instance `key` exists and has completed. */
  async completed(key: string): Promise<boolean> {
    return (await this.#store.get(this.#definition.name, key))?.status === 'completed';
  }

  /** The committed version of instance `key` (0 when there is none). */
  async version(key: string): Promise<number> {
    return (await this.#store.get(this.#definition.name, key))?.version ?? 0;
  }

  async #step(
    type: string,
    body: (env: StepEnvironment, message: MessageContext) => Promise<StepResult>,
  ): Promise<StepOutcome> {
    const emitted: Omit<ScenarioMessage, 'key'>[] = [];
    const scheduled: Scheduled[] = [];
    const scheduler: TimeoutScheduler = {
      schedule: async (_cause, _contract, message, deliverAt) => {
        const id = uuidv7(this.#now);
        scheduled.push({ id, message, dueAt: deliverAt.getTime() });
        return id;
      },
      cancel: async (id) => void this.#scheduled.delete(id),
    };
    const result = await this.#persistence.unitOfWork.transaction((tx: MemoryTransaction) =>
      body(
        { ...this.#env, scheduler },
        scenarioContext(type, tx, this.#now, (kind, contract, payload, options) => {
          emitted.push({ kind, type: contract.type, payload, ...(options === undefined ? {} : { options }) });
        }),
      ),
    );
    // Committed: what it emitted and scheduled now exists; what it made obsolete is cancelled.
    for (const entry of scheduled) this.#scheduled.set(entry.id, entry);
    for (const id of result.obsoleteSchedules) this.#scheduled.delete(id);
    for (const message of emitted) this.messages.push({ ...message, key: result.key });
    return result.outcome;
  }

  #payloads<C extends Contract>(kind: 'command' | 'event', contract: C | undefined): PayloadOf<C>[] {
    return this.messages
      .filter(
        (message) => message.kind === kind && (contract === undefined || message.type === contract.type),
      )
      .map((message) => message.payload as PayloadOf<C>);
  }
}

type Emit = (
  kind: 'command' | 'event',
  contract: Contract,
  payload: unknown,
  options?: PublishOptions,
) => void;

function scenarioContext(type: string, tx: MemoryTransaction, now: number, emit: Emit): MessageContext {
  const id = uuidv7(now);
  const envelope: Envelope = { id, type, headers: {}, body: new Uint8Array() };
  return {
    envelope,
    messageId: id,
    type,
    headers: envelope.headers,
    attempt: 1,
    correlationId: id,
    causationId: undefined,
    group: undefined,
    signal: new AbortController().signal,
    tx,
    publish: async (contract, payload, options) => emit('event', contract, payload, options),
    send: async (contract, payload, options) => emit('command', contract, payload, options),
    request: (contract) =>
      Promise.reject(
        new ConfigurationError(
          'request',
          `a saga scenario cannot ask ${contract.type}: it has no responders`,
        ),
      ),
  };
}
