export {
  SagaScenario,
  type SagaScenarioOptions,
  type ScenarioMessage,
  type ScenarioTimeout,
} from './saga-scenario.js';
export { runSagaStoreConformance, type SagaStoreUnderTest } from './saga-store-conformance.js';
export { runSagaConcurrency, type SagaConcurrencyOptions } from './saga-concurrency.js';
export { runSagaCrash, type SagaCrashOptions, type SagaCrashReport } from './saga-crash.js';
export {
  forkSagaWorker,
  serveSagaWorker,
  startSagaWorker,
  type SagaWorker,
  type SagaWorkerOptions,
  type SagaWorkerReport,
} from './saga-worker.js';
export { shuffledItems, tallyContracts, type TallyItemV1, type TallyState } from './tally-saga.js';
export { runSagaTimeoutTests, type OpenedSagaDatabase, type SagaTimeoutDatabase } from './saga-timeouts.js';
