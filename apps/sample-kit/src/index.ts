export * from './contracts.js';
export { toAmount, toCents, type Cents } from './money.js';
export {
  TRANSPORTS,
  integer,
  readSampleConfig,
  text,
  type DatabaseConfig,
  type SampleConfig,
  type TransportName,
} from './sample-config.js';
export { createTransport } from './sample-transport.js';
export { SampleDatabase, type ServiceMigration, type SqlValue } from './sample-database.js';
export { createAvro, schemasDir } from './sample-serializers.js';
export { BusTimeoutScheduler } from './bus-timeout-scheduler.js';
export { startLocalRegistry } from './local-registry.js';
export { createServiceBus, type ServiceBusOptions } from './service-bus.js';
export { runServiceMain, type RunningService } from './service-main.js';
export { startSampleTelemetry, type SampleTelemetry } from './sample-telemetry.js';
export { readiness, startHealthServer, type HealthServerOptions, type Readiness } from './health-server.js';
export { pinoLogger } from './pino-logger.js';
