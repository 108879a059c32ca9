export {
  Saga,
  StartedBy,
  Handles,
  Timeout,
  type SagaOptions,
  type SagaTimeoutInfo,
  type StepOptions,
  type UnmatchedPolicy,
} from './saga-decorators.js';
export type { SagaContext, TimeoutRequest, TimeoutScheduler } from './saga-context.js';
export { SAGA_TIMEOUT_TYPE, type SagaClass, type SagaTimeoutMessage } from './saga-definition.js';
export { SagaRuntime, type SagaInstance, type SagaRuntimeOptions } from './saga-runtime.js';
export type { SagaStats, StepOutcome } from './saga-step.js';
export { MemorySagaStore } from './memory-saga-store.js';
export { ScheduledTimeouts } from './scheduled-timeouts.js';
export { inspectSaga, type SagaInspection } from './saga-inspection.js';
export type { Compensation, SagaHistoryEntry, SagaStepAction } from './saga-data.js';
