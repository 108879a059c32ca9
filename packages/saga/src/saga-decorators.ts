import 'reflect-metadata';
import type { Contract, HandleOptions, PayloadOf } from '@omnibus/core';
import { ConfigurationError, isContract } from '@omnibus/core';
import type { SagaContext } from './saga-context.js';

/** What to do with a message whose saga instance does not exist, or has completed. */
export type UnmatchedPolicy = 'ack' | 'deadLetter';

export interface SagaOptions<State> {
  /** The saga's name: its subscriber group, its store key and the stem of its timeout queue. */
  readonly name: string;
  /** The state of a new instance, from the message that starts it. */
  readonly initial: (start: unknown) => State;
  /**
   * A message for an instance that does not exist or has completed: `'ack'` (acked and counted in
   * `stats.unmatched`) or `'deadLetter'` (dead-lettered with the reason). Default `'ack'`: at-least-once
   * delivery makes a late duplicate after completion normal. Timeouts are always acked.
   */
  readonly unmatched?: UnmatchedPolicy;
  /**
   * Every contract a step may record with `compensateWith`: a compensation can run in a later step, in
   * another process, after a restart, so the contract is found again by its type here.
   */
  readonly compensations?: readonly Contract[];
  /**
   * Checks (and may upgrade) persisted state as it is read; throw when it no longer fits, and the message
   * is dead-lettered with the reason while other instances go on. Default: the parsed JSON as is.
   */
  readonly readState?: (raw: unknown) => State;
}

export interface StepOptions<C extends Contract> extends HandleOptions {
  /** The key of the saga instance this message belongs to; must return a non-empty string. */
  readonly correlate: (message: PayloadOf<C>) => string;
}

export interface StepMetadata {
  readonly contract: Contract;
  readonly method: string | symbol;
  readonly starts: boolean;
  readonly options: StepOptions<Contract>;
}

export interface TimeoutMetadata {
  readonly name: string;
  readonly method: string | symbol;
}

const SAGA = Symbol.for('omnibus:saga');
const STEPS = Symbol.for('omnibus:saga-steps');
const TIMEOUTS = Symbol.for('omnibus:saga-timeouts');

/** `never` state: any `SagaContext<State>` parameter fits (the state type is the saga class's business). */
type StepMethod<C extends Contract> = (
  message: PayloadOf<C>,
  saga: SagaContext<never>,
) => PromiseLike<void> | void;

/** Marks a class as a saga. Its methods are the steps (`@StartedBy`, `@Handles`, `@Timeout`). */
export function Saga<State>(options: SagaOptions<State>): ClassDecorator {
  if (typeof options?.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(options.name)) {
    throw new ConfigurationError('Saga.name', "must be letters, digits, '.', '_' or '-'");
  }
  if (typeof options.initial !== 'function')
    throw new ConfigurationError('Saga.initial', 'must be a function');
  if (options.unmatched !== undefined && options.unmatched !== 'ack' && options.unmatched !== 'deadLetter') {
    throw new ConfigurationError('Saga.unmatched', "must be 'ack' or 'deadLetter'");
  }
  for (const contract of options.compensations ?? []) {
    if (!isContract(contract))
      throw new ConfigurationError('Saga.compensations', 'must be contracts from defineEvent/defineCommand');
  }
  return (target) => {
    Reflect.defineMetadata(SAGA, options, target);
  };
}

function step(name: string, starts: boolean) {
  return <C extends Contract>(contract: C, options: StepOptions<C>) => {
    if (!isContract(contract))
      throw new ConfigurationError(name, 'expects a contract from defineEvent/defineCommand');
    if (typeof options?.correlate !== 'function')
      throw new ConfigurationError(`${name}.correlate`, 'must be a function of the message');
    return <M extends StepMethod<C>>(
      target: object,
      method: string | symbol,
      _descriptor: TypedPropertyDescriptor<M>,
    ): void => {
      const ctor = target.constructor;
      const existing = (Reflect.getOwnMetadata(STEPS, ctor) as StepMetadata[] | undefined) ?? [];
      const entry: StepMetadata = {
        contract,
        method,
        starts,
        options: options,
      };
      Reflect.defineMetadata(STEPS, [...existing, entry], ctor);
    };
  };
}

/** A step that may create the instance: a message for a key with no instance starts one. */
export const StartedBy = step('StartedBy', true);

/** A step of an existing instance. (Named apart from core's `Handle`, which a saga class never uses.) */
export const Handles = step('Handles', false);

/** The step run when the timeout `name`, requested with `saga.requestTimeout(name, ...)`, falls due. */
export function Timeout(name: string) {
  if (typeof name !== 'string' || name.length === 0)
    throw new ConfigurationError('Timeout', 'expects a non-empty timeout name');
  return <M extends (timeout: SagaTimeoutInfo, saga: SagaContext<never>) => PromiseLike<void> | void>(
    target: object,
    method: string | symbol,
    _descriptor: TypedPropertyDescriptor<M>,
  ): void => {
    const ctor = target.constructor;
    const existing = (Reflect.getOwnMetadata(TIMEOUTS, ctor) as TimeoutMetadata[] | undefined) ?? [];
    Reflect.defineMetadata(TIMEOUTS, [...existing, { name, method }], ctor);
  };
}

/** What a `@Timeout` method receives. */
export interface SagaTimeoutInfo {
  readonly name: string;
  readonly dueAt: Date;
}

export function getSagaOptions(target: object): SagaOptions<unknown> | undefined {
  return Reflect.getMetadata(SAGA, target) as SagaOptions<unknown> | undefined;
}

export function getStepMetadata(target: object): readonly StepMetadata[] {
  return (Reflect.getMetadata(STEPS, target) as StepMetadata[] | undefined) ?? [];
}

export function getTimeoutMetadata(target: object): readonly TimeoutMetadata[] {
  return (Reflect.getMetadata(TIMEOUTS, target) as TimeoutMetadata[] | undefined) ?? [];
}
