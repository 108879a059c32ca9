/**
 * `@omnibus/core`: what application code uses, by name. The driver API is at `@omnibus/core/transport`,
 * the conformance suites and test helpers at `@omnibus/core/testing`; everything else is internal. A test
 * (test/exports.test.ts) snapshots these names, so the surface changes only on purpose.
 */

// Contracts and payloads
export {
  defineCommand,
  defineEvent,
  defineQuery,
  isContract,
  type CommandContract,
  type CommandDefinition,
  type Contract,
  type EventContract,
  type EventDefinition,
  type PayloadOf,
  type QueryContract,
  type QueryDefinition,
  type ReplyOf,
} from './contracts.js';
export type {
  StandardIssue,
  StandardResult,
  StandardSchemaV1,
  StandardSchemaV1Props,
} from './standard-schema.js';
export { Header, type Envelope } from './envelope.js';

// The bus, its options and its wiring
export { Bus, type BusStats, type TransactionScope } from './bus.js';
export { formatBusDescription, type BusDescription, type HandlerDescription } from './bus-description.js';
export { BusNotStartedError, UnknownMessageTypeError } from './bus-errors.js';
export {
  BusSchedules,
  type ImmediatePublishOptions,
  type PublishResult,
  type SchedulePublishOptions,
} from './scheduling.js';
export type { BusOptions } from './bus-options.js';
export { createBus, omnibusModule, type ContainerBusOptions } from './container.js';
export {
  Emits,
  Handle,
  Subscriber,
  type CommandSender,
  type EventPublisher,
  type HandleOptions,
  type HandlerClass,
  type RetryPolicy,
  type SubscriberOptions,
} from './decorators.js';
export type { MessageContext, PublishOptions } from './message-context.js';
export { compose, type HandlingContext, type Middleware, type Next } from './pipeline/middleware.js';
export { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './pipeline/circuit-breaker.js';
export { constant, exponential, type Backoff, type ExponentialBackoffOptions } from './backoff.js';
export { retry, type RetryOptions } from './retry.js';
export { systemClock, type Clock } from './clock.js';
export { uuidv7 } from './uuid.js';

// Request/reply
export type { RequestOptions } from './request-reply/requester.js';
export { NoResponderError, RemoteError, RequestAbortedError } from './request-reply/request-errors.js';

// Serializers
export { JSON_CONTENT_TYPE, JsonSerializer, type Serializer } from './serializer.js';

// Errors
export { ErrorCode } from './error-codes.js';
export {
  CircuitOpenError,
  ConcurrencyError,
  ConfigurationError,
  ContractViolationError,
  DeserializationError,
  NonRetriableError,
  OmnibusError,
  PersistenceUnavailableError,
  SchemaError,
  TimeoutError,
  TransportError,
  isOmnibusError,
  toOmnibusError,
  type ContractIssue,
  type OmnibusErrorOptions,
} from './errors.js';

// Telemetry (OpenTelemetry API; a no-op without an SDK)
export { observeSagaInstances, type TelemetryOptions } from './telemetry/telemetry.js';
export { MessageTracer } from './telemetry/message-tracer.js';
export { messageLogFields, type MessageLogFields } from './telemetry/log-fields.js';

// Logging
export { consoleLogger, defaultLogger, silentLogger, type LogLevel, type Logger } from './logger.js';

// Dead letters
export { readFailure } from './dead-letter.js';
export { replayDeadLetters, type ReplayOptions } from './dead-letter-replay.js';

// Envelope signing
export { signingKeys, type SigningKeys, type SigningOptions } from './signing/signing-options.js';
export { SignatureError, type SignatureErrorCode } from './signing/signature-error.js';
export { SignatureHeader, signEnvelope, verifyEnvelope } from './signing/envelope-signature.js';

// Persistence: the store interfaces (implemented by @omnibus/sqlite and @omnibus/postgres), the relay,
// the in-memory stores
export type {
  InboxStore,
  OutboxBacklog,
  OutboxListener,
  OutboxMessage,
  OutboxRecord,
  OutboxStore,
  OutboxWriter,
  Persistence,
  UnitOfWork,
} from './persistence.js';
export {
  OutboxRelay,
  type OutboxLag,
  type OutboxRelayMetrics,
  type OutboxRelayOptions,
} from './outbox-relay.js';
export type { SagaListOptions, SagaRecord, SagaStatus, SagaStore } from './saga-store.js';
export type { ScheduledMessage, ScheduleListOptions, ScheduleStore } from './schedule-store.js';
export {
  MemoryInbox,
  MemoryOutbox,
  MemoryPersistence,
  MemoryScheduleStore,
  MemoryTransaction,
  type MemoryPersistenceOptions,
} from './memory/memory-persistence.js';

// Transports: what an application passes to the bus and names in replay and operations
export { MemoryTransport, type MemoryTransportOptions } from './memory/memory-transport.js';
export { describeDestination, describeSource } from './transport.js';
export type {
  Destination,
  HealthReport,
  QueueSource,
  Source,
  SubscriptionSource,
  Transport,
} from './transport.js';
