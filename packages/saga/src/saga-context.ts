import type {
  Clock,
  CommandContract,
  Contract,
  EventContract,
  MessageContext,
  PayloadOf,
  PublishOptions,
} from '@omnibus/core';
import { ConfigurationError, uuidv7 } from '@omnibus/core';
import type { SagaData } from './saga-data.js';
import type { SagaDefinition, SagaTimeoutMessage } from './saga-definition.js';

/** When a timeout falls due: after a delay from now, or at a time. */
export type TimeoutRequest = { readonly afterMs: number } | { readonly at: Date };

/** What a saga step gets besides its message. */
export interface SagaContext<State> {
  readonly sagaName: string;
  /** The correlation key of this instance. */
  readonly key: string;
  /** True in the step that created the instance. */
  readonly isNew: boolean;
  /** The instance's state: mutate it or assign a new one; it is saved when the step succeeds. */
  state: State;
  /** The message being handled (its id, headers, attempt, transaction). */
  readonly message: MessageContext;
  /** Sends a command: it leaves only if the step commits (through the outbox, in the step's transaction). */
  send<C extends CommandContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<void>;
  /** Publishes an event, with the same guarantee as `send`. */
  publish<C extends EventContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<void>;
  /**
   * Requests the timeout `name` (handled by the `@Timeout(name)` method), replacing a pending one of the
   * same name. It is a scheduled message written in the step's transaction. A timeout fires at most once
   * per request; one cancelled, replaced, or outlived by the saga's completion is ignored when it comes.
   */
  requestTimeout(name: string, when: TimeoutRequest): Promise<void>;
  /** Forgets the pending timeout `name`: when it comes, it is ignored. */
  cancelTimeout(name: string): void;
  /** The pending timeouts, by name. */
  readonly pendingTimeouts: readonly string[];
  /** Records the inverse of what this step did; `compensate()` sends it. */
  compensateWith<C extends Contract>(contract: C, payload: PayloadOf<C>): void;
  /** Sends the recorded inverses, last recorded first, once per instance; later calls send nothing. */
  compensate(): Promise<void>;
  /** Marks the instance completed when the step commits: its pending timeouts are cancelled. */
  complete(): void;
  readonly completed: boolean;
}

/** Sends a saga's timeout commands for later and cancels them; the bus's scheduling, or a virtual clock. */
export interface TimeoutScheduler {
  /**
   * Schedules `message` for `deliverAt` as an outgoing message of the step handling `cause` (in its
   * transaction when it has one) and returns the schedule id when there is one.
   */
  schedule(
    cause: MessageContext,
    contract: CommandContract<SagaTimeoutMessage>,
    message: SagaTimeoutMessage,
    deliverAt: Date,
  ): Promise<string | undefined>;
  /** Best effort, after the step: a timeout that still comes is ignored by its token. */
  cancel(scheduleId: string): Promise<void>;
}

export class StepContext<State> implements SagaContext<State> {
  readonly sagaName: string;
  #completed = false;
  /** Schedule ids the step made obsolete: cancelled once the step is over. */
  readonly obsoleteSchedules: string[] = [];

  constructor(
    private readonly definition: SagaDefinition,
    readonly key: string,
    readonly isNew: boolean,
    readonly message: MessageContext,
    readonly data: SagaData,
    private readonly scheduler: TimeoutScheduler | undefined,
    private readonly clock: Clock,
  ) {
    this.sagaName = definition.name;
  }

  get state(): State {
    return this.data.state as State;
  }

  set state(value: State) {
    this.data.state = value;
  }

  get completed(): boolean {
    return this.#completed;
  }

  get pendingTimeouts(): readonly string[] {
    return this.data.timeouts.map((timeout) => timeout.name);
  }

  async send<C extends CommandContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<void> {
    await this.message.send(contract, payload, options);
  }

  async publish<C extends EventContract>(
    contract: C,
    payload: PayloadOf<C>,
    options?: PublishOptions,
  ): Promise<void> {
    await this.message.publish(contract, payload, options);
  }

  async requestTimeout(name: string, when: TimeoutRequest): Promise<void> {
    if (!this.definition.timeouts.has(name)) {
      throw new ConfigurationError(
        'requestTimeout',
        `${this.definition.name} has no @Timeout('${name}') method`,
      );
    }
    const dueAt = dueTime(when, this.clock);
    if (this.scheduler === undefined) {
      throw new ConfigurationError(
        'requestTimeout',
        'this bus has no scheduling: saga timeouts need a persistence with scheduled messages',
      );
    }
    this.cancelTimeout(name);
    const token = uuidv7();
    const scheduleId = await this.scheduler.schedule(
      this.message,
      this.definition.timeoutContract,
      { saga: this.definition.name, key: this.key, name, token, dueAt: dueAt.toISOString() },
      dueAt,
    );
    this.data.timeouts.push({
      name,
      token,
      dueAt: dueAt.toISOString(),
      ...(scheduleId === undefined ? {} : { scheduleId }),
    });
  }

  cancelTimeout(name: string): void {
    const index = this.data.timeouts.findIndex((timeout) => timeout.name === name);
    if (index < 0) return;
    const [removed] = this.data.timeouts.splice(index, 1);
    if (removed?.scheduleId !== undefined) this.obsoleteSchedules.push(removed.scheduleId);
  }

  compensateWith<C extends Contract>(contract: C, payload: PayloadOf<C>): void {
    if (this.definition.compensations.get(contract.type) !== contract) {
      throw new ConfigurationError(
        'compensateWith',
        `${contract.type} is not among @Saga({ compensations }) of ${this.definition.name}`,
      );
    }
    if (this.data.compensated) return; // already compensated: nothing more will be sent
    this.data.compensations.push({ type: contract.type, payload });
  }

  async compensate(): Promise<void> {
    if (this.data.compensated) return;
    for (const compensation of [...this.data.compensations].reverse()) {
      const contract = this.definition.compensations.get(compensation.type)!;
      if (contract.kind === 'command') await this.message.send(contract, compensation.payload);
      else if (contract.kind === 'event') await this.message.publish(contract, compensation.payload);
    }
    this.data.compensations = [];
    this.data.compensated = true;
  }

  complete(): void {
    this.#completed = true;
    for (const timeout of this.data.timeouts) {
      if (timeout.scheduleId !== undefined) this.obsoleteSchedules.push(timeout.scheduleId);
    }
    this.data.timeouts = [];
  }
}

function dueTime(when: TimeoutRequest, clock: Clock): Date {
  if (when !== null && typeof when === 'object' && 'afterMs' in when) {
    if (!Number.isFinite(when.afterMs) || when.afterMs < 0) {
      throw new ConfigurationError(
        'requestTimeout.afterMs',
        `must be a non-negative number, got ${String(when.afterMs)}`,
      );
    }
    return new Date(clock.now() + when.afterMs);
  }
  if (
    when !== null &&
    typeof when === 'object' &&
    'at' in when &&
    when.at instanceof Date &&
    !Number.isNaN(when.at.getTime())
  ) {
    return when.at;
  }
  throw new ConfigurationError('requestTimeout', 'expects { afterMs } or { at: a valid Date }');
}
