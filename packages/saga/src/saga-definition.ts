import type { CommandContract, Contract } from '@omnibus/core';
import { ConfigurationError, defineCommand } from '@omnibus/core';
import type { StepMetadata, TimeoutMetadata, UnmatchedPolicy } from './saga-decorators.js';
import { getSagaOptions, getStepMetadata, getTimeoutMetadata } from './saga-decorators.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a saga class with any constructor
export type SagaClass = new (...args: any[]) => object;

/** The timeout command a saga sends itself through the scheduler. */
export interface SagaTimeoutMessage {
  readonly saga: string;
  readonly key: string;
  readonly name: string;
  /** Matches the pending timeout recorded in the state; a timeout whose token is gone is ignored. */
  readonly token: string;
  readonly dueAt: string;
}

/** A saga class read once: its steps by message type, its timeouts by name. */
export interface SagaDefinition {
  readonly sagaClass: SagaClass;
  readonly name: string;
  readonly initial: (start: unknown) => unknown;
  readonly readState: ((raw: unknown) => unknown) | undefined;
  readonly unmatched: UnmatchedPolicy;
  readonly steps: ReadonlyMap<string, StepMetadata>;
  readonly timeouts: ReadonlyMap<string, TimeoutMetadata>;
  readonly compensations: ReadonlyMap<string, Contract>;
  /** The queue `<name>.timeouts` that this saga's timeouts arrive on. */
  readonly timeoutContract: CommandContract<SagaTimeoutMessage>;
}

export const SAGA_TIMEOUT_TYPE = 'omnibus.saga.Timeout';

const definitions = new WeakMap<SagaClass, SagaDefinition>();

/** Reads and checks a saga class's decorators; a broken saga fails here, naming what is wrong. */
export function sagaDefinitionOf(sagaClass: SagaClass): SagaDefinition {
  const cached = definitions.get(sagaClass);
  if (cached !== undefined) return cached;
  const options = getSagaOptions(sagaClass);
  if (options === undefined)
    throw new ConfigurationError('sagas', `${sagaClass.name} has no @Saga({ name, initial }) decorator`);
  const steps = new Map<string, StepMetadata>();
  for (const step of getStepMetadata(sagaClass)) {
    if (steps.has(step.contract.type)) {
      throw new ConfigurationError(
        'sagas',
        `${sagaClass.name} handles ${step.contract.type} twice: one message type, one step`,
      );
    }
    steps.set(step.contract.type, step);
  }
  if (![...steps.values()].some((step) => step.starts)) {
    throw new ConfigurationError('sagas', `${sagaClass.name} has no @StartedBy step: nothing can start it`);
  }
  const timeouts = new Map<string, TimeoutMetadata>();
  for (const timeout of getTimeoutMetadata(sagaClass)) {
    if (timeouts.has(timeout.name))
      throw new ConfigurationError('sagas', `${sagaClass.name} has two @Timeout('${timeout.name}') methods`);
    timeouts.set(timeout.name, timeout);
  }
  const definition: SagaDefinition = {
    sagaClass,
    name: options.name,
    initial: options.initial,
    readState: options.readState,
    unmatched: options.unmatched ?? 'ack',
    steps,
    timeouts,
    compensations: new Map((options.compensations ?? []).map((contract) => [contract.type, contract])),
    timeoutContract: defineCommand<SagaTimeoutMessage>({
      type: SAGA_TIMEOUT_TYPE,
      queue: `${options.name}.timeouts`,
      key: (timeout) => timeout.key,
    }),
  };
  definitions.set(sagaClass, definition);
  return definition;
}
