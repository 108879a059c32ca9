import type { Bus, LogLevel, Logger } from '@omnibus/core';
import { ConfigurationError, toOmnibusError } from '@omnibus/core';
import type { AvroSerializer } from '@omnibus/avro';
import { startHealthServer } from './health-server.js';
import { pinoLogger } from './pino-logger.js';
import type { SampleConfig } from './sample-config.js';
import { integer, text } from './sample-config.js';
import type { SampleDatabase } from './sample-database.js';
import { startLocalRegistry } from './local-registry.js';
import { createAvro } from './sample-serializers.js';
import type { SampleTelemetry } from './sample-telemetry.js';
import { startSampleTelemetry } from './sample-telemetry.js';

export interface RunningService {
  stop(): Promise<void>;
  /** Printed in the ready line: the HTTP URL of a service that serves its own `/healthz`, `/readyz`, `/metrics`. */
  readonly url?: string;
  /** A service without a URL gets a small health server over its bus and database (see below). */
  readonly bus?: Bus;
  readonly db?: SampleDatabase;
}

/**
 * The `main` of a service process: builds and starts the service, prints one JSON line
 * `{"ready":true,"service":...}` on stdout when it takes work, and stops gracefully on SIGTERM or SIGINT
 * (exit 0), or exits 1 with the reason when it cannot start. Logs (pino JSON lines with trace ids) go
 * to stderr, at `OMNIBUS_LOG_LEVEL` (default warn). The OpenTelemetry SDK starts first (see
 * `startSampleTelemetry`); a service that serves no HTTP of its own gets `/healthz`, `/readyz` and
 * `/metrics` on `OMNIBUS_HTTP_HOST` (default 127.0.0.1) and `PORT` (default 0: any free port, printed in
 * the ready line).
 */
export async function runServiceMain(
  config: SampleConfig,
  start: (avro: AvroSerializer, logger: Logger, telemetry: SampleTelemetry) => Promise<RunningService>,
): Promise<void> {
  const level = (text(process.env, 'OMNIBUS_LOG_LEVEL') ?? 'warn') as LogLevel | 'silent';
  const telemetry = startSampleTelemetry(config.service);
  const logger = pinoLogger(config.service, level);
  try {
    let registryUrl = config.registryUrl;
    if (registryUrl === undefined) {
      if (config.transport !== 'memory') {
        throw new ConfigurationError(
          'OMNIBUS_SCHEMA_REGISTRY_URL',
          'is required on a real broker: the services must share one registry',
        );
      }
      registryUrl = (await startLocalRegistry()).url;
    }
    const service = await start(createAvro(registryUrl), logger, telemetry);
    const health =
      service.url === undefined && service.bus !== undefined && service.db !== undefined
        ? await startHealthServer({
            host: text(process.env, 'OMNIBUS_HTTP_HOST') ?? '127.0.0.1',
            port: integer(process.env, 'PORT', 0),
            bus: service.bus,
            db: service.db,
            metrics: telemetry.metrics,
          })
        : undefined;
    const url = service.url ?? health?.url;
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ service: config.service, signal }, 'stopping');
      (health?.close() ?? Promise.resolve())
        .then(() => service.stop())
        .then(() => telemetry.shutdown())
        .then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ error: toOmnibusError(error).message }, 'stop failed');
            process.exit(1);
          },
        );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.stdout.write(
      `${JSON.stringify({ ready: true, service: config.service, transport: config.transport, pid: process.pid, ...(url === undefined ? {} : { url }) })}\n`,
    );
  } catch (error) {
    const e = toOmnibusError(error);
    process.stderr.write(`${config.service} cannot start: ${e.message} [${e.code}]\n`);
    process.exit(1);
  }
}
