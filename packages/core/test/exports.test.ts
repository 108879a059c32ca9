import { expect } from 'chai';

/**
 * The package's public surface, by name: a change to it is deliberate, and shows here. Types are not
 * listed (they leave nothing at run time); the value exports are.
 */
describe('@omnibus/core exports', function () {
  it('@omnibus/core exports exactly these names', async function () {
    expect(Object.keys(await import('@omnibus/core')).sort()).to.deep.equal([
      'Bus',
      'BusNotStartedError',
      'BusSchedules',
      'CircuitBreaker',
      'CircuitOpenError',
      'ConcurrencyError',
      'ConfigurationError',
      'ContractViolationError',
      'DeserializationError',
      'Emits',
      'ErrorCode',
      'Handle',
      'Header',
      'JSON_CONTENT_TYPE',
      'JsonSerializer',
      'MemoryInbox',
      'MemoryOutbox',
      'MemoryPersistence',
      'MemoryScheduleStore',
      'MemoryTransaction',
      'MemoryTransport',
      'NonRetriableError',
      'OmnibusError',
      'OutboxRelay',
      'PersistenceUnavailableError',
      'SchemaError',
      'Subscriber',
      'TimeoutError',
      'TransportError',
      'UnknownMessageTypeError',
      'compose',
      'consoleLogger',
      'constant',
      'createBus',
      'defaultLogger',
      'defineCommand',
      'defineEvent',
      'describeDestination',
      'describeSource',
      'exponential',
      'formatBusDescription',
      'isContract',
      'isOmnibusError',
      'omnibusModule',
      'readFailure',
      'replayDeadLetters',
      'retry',
      'silentLogger',
      'systemClock',
      'toOmnibusError',
      'uuidv7',
    ]);
  });
  it('@omnibus/core/transport exports exactly these names', async function () {
    expect(Object.keys(await import('@omnibus/core/transport')).sort()).to.deep.equal([
      'CLOUDEVENTS_SPEC_VERSION',
      'DONE',
      'Header',
      'KeyOrderGate',
      'MessageTooLargeError',
      'SettleOnce',
      'SinkCalls',
      'TransportClosedError',
      'abortableDelay',
      'checkMessageSizes',
      'describeDestination',
      'describeSource',
      'envelopeSize',
      'fromBindingHeaders',
      'fromStructuredCloudEvent',
      'isCloudEventsAttributeName',
      'positiveInteger',
      'toBindingHeaders',
      'withFailureHeaders',
      'withoutFailureHeaders',
    ]);
  });
  it('@omnibus/core/testing exports exactly these names', async function () {
    expect(Object.keys(await import('@omnibus/core/testing')).sort()).to.deep.equal([
      'IpcTransport',
      'bridgeIpc',
      'collectChannel',
      'describeIntegration',
      'runPersistenceConformance',
      'runScheduleConformance',
      'runTransportConformance',
      'serveOutboxRelay',
      'uniqueName',
      'waitFor',
    ]);
  });
});
