export {
  SagaScenario,
  type SagaScenarioOptions,
  type ScenarioMessage,
  type ScenarioTimeout,
} from './saga-scenario.js';
export { runSagaStoreConformance, type SagaStoreUnderTest } from './saga-store-conformance.js';
