export {
  SagaScenario,
  type SagaScenarioOptions,
  type ScenarioMessage,
  type ScenarioTimeout,
} from './saga-scenario.js';
