import type { Logger } from '@omnibus/core';
import { ConfigurationError, consoleLogger, toOmnibusError } from '@omnibus/core';
import type { AvroSerializer } from '@omnibus/avro';
import type { SampleConfig } from './sample-config.js';
import { text } from './sample-config.js';
import { startLocalRegistry } from './local-registry.js';
import { createAvro } from './sample-serializers.js';

export interface RunningService {
  stop(): Promise<void>;
  /** Printed in the ready line, e.g. the HTTP URL. */
  readonly url?: string;
}

/**
 * The `main` of a service process: builds and starts the service, prints one JSON line
 * `{"ready":true,"service":...}` on stdout when it takes work, and stops gracefully on SIGTERM or SIGINT
 * (exit 0), or exits 1 with the reason when it cannot start. Logs (JSON lines) go to stderr, at
 * `OMNIBUS_LOG_LEVEL` (default warn).
 */
export async function runServiceMain(
  config: SampleConfig,
  start: (avro: AvroSerializer, logger: Logger) => Promise<RunningService>,
): Promise<void> {
  const level = (text(process.env, 'OMNIBUS_LOG_LEVEL') ?? 'warn') as 'debug' | 'info' | 'warn' | 'error';
  const logger = consoleLogger(level);
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
    const service = await start(createAvro(registryUrl), logger);
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ service: config.service, signal }, 'stopping');
      service.stop().then(
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
      `${JSON.stringify({ ready: true, service: config.service, transport: config.transport, pid: process.pid, ...(service.url === undefined ? {} : { url: service.url }) })}\n`,
    );
  } catch (error) {
    const e = toOmnibusError(error);
    process.stderr.write(`${config.service} cannot start: ${e.message} [${e.code}]\n`);
    process.exit(1);
  }
}
