import { expect } from 'chai';

/**
 * The package's public surface, by name: a change to it is deliberate, and shows here. Types are not
 * listed (they leave nothing at run time); the value exports are.
 */
describe('@omnibus/saga exports', function () {
  it('@omnibus/saga exports exactly these names', async function () {
    expect(Object.keys(await import('@omnibus/saga')).sort()).to.deep.equal([
      'Handles',
      'MemorySagaStore',
      'SAGA_TIMEOUT_TYPE',
      'Saga',
      'SagaRuntime',
      'ScheduledTimeouts',
      'StartedBy',
      'Timeout',
      'inspectSaga',
    ]);
  });
  it('@omnibus/saga/testing exports exactly these names', async function () {
    expect(Object.keys(await import('@omnibus/saga/testing')).sort()).to.deep.equal([
      'SagaScenario',
      'forkSagaWorker',
      'runSagaConcurrency',
      'runSagaCrash',
      'runSagaStoreConformance',
      'runSagaTimeoutTests',
      'serveSagaWorker',
      'shuffledItems',
      'startSagaWorker',
      'tallyContracts',
    ]);
  });
});
