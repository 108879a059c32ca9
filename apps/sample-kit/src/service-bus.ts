import type {
  HandlerClass,
  Logger,
  Middleware,
  Serializer,
  TelemetryOptions,
  Transport,
} from '@omnibus/core';
import { Bus, exponential } from '@omnibus/core';
import type { SampleConfig } from './sample-config.js';
import type { SampleDatabase } from './sample-database.js';
import { createTransport } from './sample-transport.js';

export interface ServiceBusOptions {
  readonly config: SampleConfig;
  readonly db: SampleDatabase;
  readonly handlers: readonly HandlerClass[];
  /** The handler objects the service made (they hold its stores); other classes are made with `new`. */
  readonly instances: ReadonlyMap<HandlerClass, object>;
  /** The Avro serializer of the contracts. */
  readonly avro: Serializer;
  /** A transport to use instead of the configured one (the in-memory bus shared by one process). */
  readonly transport?: Transport;
  readonly closeTransport?: boolean;
  readonly middleware?: readonly Middleware[];
  readonly logger?: Logger;
  /** Where spans and metrics go; default the global OpenTelemetry providers (what the SDK registers). */
  readonly telemetry?: TelemetryOptions;
}

/**
 * The bus every sample service runs: the contracts in Avro, the database's unit of work, inbox and
 * outbox, and the same retry policy (5 attempts, exponential backoff from 100 ms, capped at 2 s).
 */
export function createServiceBus(options: ServiceBusOptions): Bus {
  return new Bus({
    transport: options.transport ?? createTransport(options.config),
    serviceName: options.config.service,
    handlers: options.handlers,
    resolveHandler: (handlerClass) => options.instances.get(handlerClass) ?? new handlerClass(),
    serializers: [options.avro],
    persistence: options.db.persistence,
    retry: { attempts: 5, backoff: exponential({ initialMs: 100, maxMs: 2_000 }) },
    outboxRelay: { pollIntervalMs: 25 },
    drainTimeoutMs: 5_000,
    ...(options.closeTransport === undefined ? {} : { closeTransport: options.closeTransport }),
    ...(options.middleware === undefined ? {} : { middleware: options.middleware }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
  });
}
