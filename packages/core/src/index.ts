export * from './backoff.js';
export * from './bus.js';
export * from './bus-errors.js';
export * from './bus-options.js';
export * from './clock.js';
export * from './container.js';
export * from './contracts.js';
export * from './dead-letter.js';
export * from './dead-letter-replay.js';
export * from './decorators.js';
export * from './envelope.js';
export * from './errors.js';
export * from './logger.js';
export * from './message-context.js';
export * from './persistence.js';
export * from './retry.js';
export * from './serializer.js';
export * from './transport.js';
export * from './uuid.js';
export { MemoryTransport, type MemoryTransportOptions } from './memory/memory-transport.js';
export { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './pipeline/circuit-breaker.js';
export { compose, type HandlingContext, type Middleware, type Next } from './pipeline/middleware.js';
export * from './outbox-relay.js';
export {
  MemoryInbox,
  MemoryOutbox,
  MemoryPersistence,
  MemoryScheduleStore,
  MemoryTransaction,
  type MemoryPersistenceOptions,
} from './memory/memory-persistence.js';
export * from './saga-store.js';
export * from './schedule-store.js';
export {
  BusSchedules,
  type ImmediatePublishOptions,
  type PublishResult,
  type SchedulePublishOptions,
} from './scheduling.js';
export type {
  StandardIssue,
  StandardResult,
  StandardSchemaV1,
  StandardSchemaV1Props,
} from './standard-schema.js';
