import type { Clock, Logger, MessageContext, SagaRecord, SagaStore } from '@omnibus/core';
import { ConfigurationError, NonRetriableError } from '@omnibus/core';
import type { SagaTimeoutInfo, StepMetadata } from './saga-decorators.js';
import type { TimeoutScheduler } from './saga-context.js';
import { StepContext } from './saga-context.js';
import type { SagaData, SagaStepAction } from './saga-data.js';
import { freshData, readData, recordStep, writeData } from './saga-data.js';
import type { SagaDefinition, SagaTimeoutMessage } from './saga-definition.js';

/** Counters of what a saga runtime has done. */
export interface SagaStats {
  /** Steps committed (message and timeout steps). */
  steps: number;
  /** Instances created. */
  started: number;
  /** Instances completed. */
  completed: number;
  /** Messages for an instance that does not exist or has completed, acked by the saga's `unmatched: 'ack'`. */
  unmatched: number;
  /** Timeouts that came after their reason was gone (cancelled, replaced, completed): acked and ignored. */
  staleTimeouts: number;
  /** Completed instances deleted once their retention passed. */
  purged: number;
}

export function emptyStats(): SagaStats {
  return { steps: 0, started: 0, completed: 0, unmatched: 0, staleTimeouts: 0, purged: 0 };
}

/** What a step needs from around it. */
export interface StepEnvironment {
  readonly store: SagaStore;
  readonly clock: Clock;
  readonly scheduler: TimeoutScheduler | undefined;
  readonly logger: Logger;
  readonly stats: SagaStats;
  /** Makes the saga object whose method runs. */
  readonly instantiate: (definition: SagaDefinition) => object;
}

export type StepOutcome = 'handled' | 'unmatched' | 'stale-timeout';

export interface StepResult {
  readonly outcome: StepOutcome;
  /** The instance the message correlated to. */
  readonly key: string;
  /** Schedules of timeouts the step cancelled, replaced or outlived: cancel them once it has committed. */
  readonly obsoleteSchedules: readonly string[];
  /** The version the step saved (when handled). */
  readonly version?: number;
}

/**
 * One step, inside the handling's unit of work (`message.tx`): correlate → load (with its version) →
 * run the saga method → save with the version check. Its sends, publishes and timeouts go through
 * `message`, so they commit with the state or not at all. A lost version race is the store's
 * `ConcurrencyError` (retriable: the message is handled again with fresh state).
 */
export async function runMessageStep(
  env: StepEnvironment,
  definition: SagaDefinition,
  step: StepMetadata,
  payload: unknown,
  message: MessageContext,
): Promise<StepResult> {
  const key = correlate(definition, step, payload);
  const tx = transactionOf(definition, message);
  const record = await env.store.load(tx, definition.name, key);
  if (record === undefined && !step.starts)
    return unmatched(env, definition, key, message, 'no such instance');
  if (record?.status === 'completed') return unmatched(env, definition, key, message, 'instance completed');
  const data =
    record === undefined ? freshData(definition.initial(payload)) : readData(definition, key, record.data);
  const obsoleteSchedules = await run(
    env,
    definition,
    record,
    key,
    data,
    message,
    tx,
    undefined,
    (saga, context) => (saga as Record<string | symbol, StepFn>)[step.method]!.call(saga, payload, context),
  );
  return { outcome: 'handled', key, obsoleteSchedules, version: (record?.version ?? 0) + 1 };
}

/** A timeout step: runs the `@Timeout` method only while the instance still waits for that token. */
export async function runTimeoutStep(
  env: StepEnvironment,
  definition: SagaDefinition,
  timeout: SagaTimeoutMessage,
  message: MessageContext,
): Promise<StepResult> {
  if (
    timeout === null ||
    typeof timeout !== 'object' ||
    typeof timeout.key !== 'string' ||
    timeout.key === ''
  ) {
    throw new NonRetriableError(`saga ${definition.name}: malformed timeout message`, {
      code: 'SAGA_TIMEOUT_INVALID',
    });
  }
  const method = definition.timeouts.get(timeout.name)?.method;
  if (timeout.saga !== definition.name || method === undefined) {
    throw new NonRetriableError(
      `saga ${definition.name}: timeout ${JSON.stringify(timeout.name)} of saga ${JSON.stringify(timeout.saga)} is not one of its timeouts`,
      { code: 'SAGA_TIMEOUT_INVALID' },
    );
  }
  const tx = transactionOf(definition, message);
  const record = await env.store.load(tx, definition.name, timeout.key);
  if (record === undefined || record.status === 'completed') return stale(env, timeout.key);
  const data = readData(definition, timeout.key, record.data);
  const index = data.timeouts.findIndex((t) => t.name === timeout.name && t.token === timeout.token);
  if (index < 0) return stale(env, timeout.key);
  const [pending] = data.timeouts.splice(index, 1);
  const info: SagaTimeoutInfo = { name: timeout.name, dueAt: new Date(pending!.dueAt) };
  const obsoleteSchedules = await run(
    env,
    definition,
    record,
    timeout.key,
    data,
    message,
    tx,
    timeout.name,
    (saga, context) => (saga as Record<string | symbol, StepFn>)[method]!.call(saga, info, context),
  );
  return { outcome: 'handled', key: timeout.key, obsoleteSchedules, version: record.version + 1 };
}

type StepFn = (input: unknown, context: StepContext<unknown>) => unknown;

async function run(
  env: StepEnvironment,
  definition: SagaDefinition,
  record: SagaRecord | undefined,
  key: string,
  data: SagaData,
  message: MessageContext,
  tx: unknown,
  /** The timeout's name, for a timeout step. */
  timeout: string | undefined,
  invoke: (saga: object, context: StepContext<unknown>) => unknown,
): Promise<readonly string[]> {
  const wasCompensated = data.compensated;
  const context = new StepContext<unknown>(
    definition,
    key,
    record === undefined,
    message,
    data,
    env.scheduler,
    env.clock,
  );
  await invoke(env.instantiate(definition), context);
  const now = new Date(env.clock.now());
  const completed = context.completed;
  const version = (record?.version ?? 0) + 1;
  recordStep(context.data, {
    type: message.type,
    messageId: message.messageId,
    at: now.toISOString(),
    version,
    action: stepAction(completed, context.data.compensated && !wasCompensated, record === undefined, timeout),
    ...(timeout === undefined ? {} : { timeout }),
  });
  await env.store.save(
    tx,
    {
      saga: definition.name,
      key,
      version,
      status: completed ? 'completed' : 'running',
      data: writeData(context.data),
      createdAt: record?.createdAt ?? now,
      updatedAt: now,
      ...(completed ? { completedAt: now } : {}),
    },
    record?.version ?? 0,
  );
  env.stats.steps++;
  if (record === undefined) env.stats.started++;
  if (completed) env.stats.completed++;
  return context.obsoleteSchedules;
}

function correlate(definition: SagaDefinition, step: StepMetadata, payload: unknown): string {
  let key: unknown;
  try {
    key = step.options.correlate(payload);
  } catch (error) {
    throw new NonRetriableError(
      `saga ${definition.name}: correlate of ${step.contract.type} threw: ${error instanceof Error ? error.message : String(error)}`,
      { code: 'SAGA_CORRELATION_FAILED', cause: error },
    );
  }
  if (typeof key !== 'string' || key.length === 0) {
    throw new NonRetriableError(
      `saga ${definition.name}: correlate of ${step.contract.type} gave ${key === '' ? 'an empty key' : `no key (${typeof key})`}`,
      { code: 'SAGA_CORRELATION_FAILED' },
    );
  }
  return key;
}

function unmatched(
  env: StepEnvironment,
  definition: SagaDefinition,
  key: string,
  message: MessageContext,
  why: string,
): StepResult {
  if (definition.unmatched === 'deadLetter') {
    throw new NonRetriableError(`saga ${definition.name} instance ${key}: ${why} for ${message.type}`, {
      code: 'SAGA_NOT_FOUND',
    });
  }
  env.stats.unmatched++;
  env.logger.debug({ saga: definition.name, key, type: message.type, why }, 'saga message unmatched: acked');
  return { outcome: 'unmatched', key, obsoleteSchedules: [] };
}

function stale(env: StepEnvironment, key: string): StepResult {
  env.stats.staleTimeouts++;
  return { outcome: 'stale-timeout', key, obsoleteSchedules: [] };
}

function transactionOf(definition: SagaDefinition, message: MessageContext): unknown {
  if (message.tx === undefined) {
    throw new ConfigurationError(
      'persistence',
      `saga ${definition.name} needs a bus with persistence: each step runs in a unit of work`,
    );
  }
  return message.tx;
}

/** What a step did, as its history entry says: completing or compensating outranks how it began. */
function stepAction(
  completed: boolean,
  compensatedNow: boolean,
  started: boolean,
  timeout: string | undefined,
): SagaStepAction {
  if (completed) return 'completed';
  if (compensatedNow) return 'compensated';
  if (started) return 'started';
  return timeout === undefined ? 'handled' : 'timeout';
}
