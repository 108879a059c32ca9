import { resolve } from 'node:path';
import { ConfigurationError } from '@omnibus/core';
import type { BrokerEnv } from '@omnibus/lab';
import { readBrokerEnv } from '@omnibus/lab';
import type { TransportName } from '@omnibus/cli';
import { TRANSPORTS } from '@omnibus/cli';

export { TRANSPORTS, type TransportName };

/** Where a service keeps its tables, the framework's (outbox, inbox, sagas) and its own. */
export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly schema: string };

/** What every sample service reads from its environment. */
export interface SampleConfig {
  /** `order-service`, `payment-service`, `inventory-service`: the CloudEvents source. */
  readonly service: string;
  /** `OMNIBUS_TRANSPORT`, default `memory`. */
  readonly transport: TransportName;
  /** The broker addresses of the lab (`OMNIBUS_RABBITMQ_URL`, `OMNIBUS_KAFKA_BROKERS`, ...). */
  readonly brokers: BrokerEnv;
  /** `OMNIBUS_NAME_PREFIX`: put before every topic, queue and subscription, so runs do not meet. */
  readonly namePrefix: string;
  /** `OMNIBUS_PUBSUB_PROJECT`, default `omnibus-sample`. */
  readonly pubsubProject: string;
  /**
   * `OMNIBUS_DATABASE_URL` (`postgres://...`: PostgreSQL, in the schema `OMNIBUS_DATABASE_SCHEMA`, default
   * the service's name with underscores), else `OMNIBUS_SQLITE_PATH`, default `data/<service>.db`.
   */
  readonly database: DatabaseConfig;
  /** `OMNIBUS_SCHEMA_REGISTRY_URL`: the Avro contracts' registry; without it the service runs one in process. */
  readonly registryUrl: string | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and checks a service's configuration; a bad value is a `ConfigurationError` naming its variable. */
export function readSampleConfig(service: string, env: Env = process.env): SampleConfig {
  const transport = (text(env, 'OMNIBUS_TRANSPORT') ?? 'memory') as TransportName;
  if (!TRANSPORTS.includes(transport)) {
    throw new ConfigurationError(
      'OMNIBUS_TRANSPORT',
      `must be one of ${TRANSPORTS.join(', ')}, got ${transport}`,
    );
  }
  const databaseUrl = text(env, 'OMNIBUS_DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigurationError(
      'OMNIBUS_DATABASE_URL',
      'must be a postgres:// URL (SQLite: OMNIBUS_SQLITE_PATH)',
    );
  }
  const registryUrl = text(env, 'OMNIBUS_SCHEMA_REGISTRY_URL');
  if (registryUrl !== undefined && !/^https?:\/\//.test(registryUrl)) {
    throw new ConfigurationError('OMNIBUS_SCHEMA_REGISTRY_URL', `must be an http(s) URL, got ${registryUrl}`);
  }
  const namePrefix = text(env, 'OMNIBUS_NAME_PREFIX') ?? '';
  if (namePrefix !== '' && !/^[a-z0-9][a-z0-9-]*$/.test(namePrefix)) {
    throw new ConfigurationError('OMNIBUS_NAME_PREFIX', 'must be lowercase letters, digits and dashes');
  }
  return {
    service,
    transport,
    brokers: readBrokerEnv(env),
    namePrefix,
    pubsubProject: text(env, 'OMNIBUS_PUBSUB_PROJECT') ?? 'omnibus-sample',
    database:
      databaseUrl === undefined
        ? { kind: 'sqlite', path: resolve(text(env, 'OMNIBUS_SQLITE_PATH') ?? `data/${service}.db`) }
        : {
            kind: 'postgres',
            url: databaseUrl,
            schema: text(env, 'OMNIBUS_DATABASE_SCHEMA') ?? service.replaceAll('-', '_'),
          },
    registryUrl,
  };
}

/** A variable's value, trimmed; undefined when unset or blank. */
export function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** A non-negative integer variable (milliseconds, counts), or `fallback` when unset. */
export function integer(env: Env, name: string, fallback: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ConfigurationError(name, `must be a non-negative integer, got ${raw}`);
  }
  return value;
}
