import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SigningKeys, SigningOptions } from '@omnibus/core';
import { ConfigurationError, signingKeys } from '@omnibus/core';
import type { BrokerAddresses, TransportConfig } from './transport-from-config.js';
import type { TransportName } from './transport-names.js';
import { TRANSPORTS } from './transport-names.js';

/** Where the tools find the application's tables. */
export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly schema: string | undefined };

/** The console's settings (`omnibus console`); the command line overrides them. */
export interface ConsoleConfig {
  readonly host: string | undefined;
  readonly port: number | undefined;
  /** `OMNIBUS_CONSOLE_TOKEN`: the bearer token (or basic-auth password) required off 127.0.0.1. */
  readonly token: string | undefined;
  /** Health URLs (`/readyz`) of the buses the console shows, by name. */
  readonly buses: Readonly<Record<string, string>>;
  /** The dead-letter queues shown: `<queue>` or `<channel>/<group>` (as `dlq --queue` / `--channel --group`). */
  readonly deadLetters: readonly string[];
  /** The sagas (their `@Saga({ name })`) the sagas page lists. */
  readonly sagas: readonly string[];
}

/** One configuration for every `omnibus` command: a file, then the services' environment variables. */
export interface ToolConfig extends TransportConfig {
  readonly database: DatabaseConfig | undefined;
  /** `OMNIBUS_SCHEMA_REGISTRY_URL`: where Avro payloads' schemas are read. */
  readonly registryUrl: string | undefined;
  readonly console: ConsoleConfig;
  /**
   * The consuming buses' signing keys, for replays: a replayed event is sealed to its one group and an
   * edited payload is signed again. From `$OMNIBUS_SIGNING_KEYS` (the JSON of `BusOptions.signing`) or the
   * JSON file `$OMNIBUS_SIGNING_KEYS_FILE` / `signingKeysFile`; never from the command line.
   */
  readonly signing: SigningKeys | undefined;
  /** `contracts`: a module exporting the application's contracts, which `--edit` validates against. */
  readonly contracts: string | undefined;
  /** The file read, if any. */
  readonly file: string | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

export const CONFIG_FILES = ['omnibus.config.json', 'omnibus.config.js'] as const;

const DEFAULT_BROKERS: BrokerAddresses = {
  rabbitmqUrl: 'amqp://guest:guest@127.0.0.1:5672',
  kafkaBrokers: ['127.0.0.1:9092'],
  awsEndpoint: 'http://127.0.0.1:4566',
  pubsubEmulatorHost: '127.0.0.1:8085',
  natsUrl: 'nats://127.0.0.1:4222',
  amqp10Url: 'amqp://omnibus:omnibus@127.0.0.1:5673',
};

const BROKER_VARIABLES: Readonly<Record<keyof BrokerAddresses, string>> = {
  rabbitmqUrl: 'OMNIBUS_RABBITMQ_URL',
  kafkaBrokers: 'OMNIBUS_KAFKA_BROKERS',
  awsEndpoint: 'OMNIBUS_AWS_ENDPOINT',
  pubsubEmulatorHost: 'PUBSUB_EMULATOR_HOST',
  natsUrl: 'OMNIBUS_NATS_URL',
  amqp10Url: 'OMNIBUS_AMQP10_URL',
};

const CONSOLE_FIELDS = ['host', 'port', 'token', 'buses', 'deadLetters', 'sagas'];

const FILE_FIELDS = [
  'transport',
  'namePrefix',
  'pubsubProject',
  'brokers',
  'database',
  'registryUrl',
  'console',
  'signingKeysFile',
  'contracts',
];

/**
 * Reads the tools' configuration: the file `path` (else `$OMNIBUS_CONFIG`, else `omnibus.config.json` or
 * `.js` in `cwd`), then the environment variables, which win. A bad value is a `ConfigurationError` naming
 * its field (`omnibus.config.json: brokers.rabbitmqUrl`) or its variable.
 */
export async function loadToolConfig(
  env: Env,
  path?: string,
  cwd: string = process.cwd(),
): Promise<ToolConfig> {
  const chosen = path ?? text(env, 'OMNIBUS_CONFIG');
  const file =
    chosen === undefined
      ? CONFIG_FILES.map((name) => resolve(cwd, name)).find((candidate) => existsSync(candidate))
      : resolve(cwd, chosen);
  const content = file === undefined ? {} : await readConfigFile(file);
  return readToolConfig(content, env, file);
}

async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  if (!existsSync(file)) throw new ConfigurationError('OMNIBUS_CONFIG', `no such file: ${file}`);
  let content: unknown;
  if (file.endsWith('.js') || file.endsWith('.mjs')) {
    content = ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
  } else {
    try {
      content = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      throw new ConfigurationError(file, `is not JSON: ${(error as Error).message}`);
    }
  }
  if (typeof content !== 'object' || content === null || Array.isArray(content)) {
    throw new ConfigurationError(file, 'must hold an object (a .js file: as its default export)');
  }
  return content as Record<string, unknown>;
}

/** The configuration from a file's content (already parsed) and the environment; exported for tests. */
export function readToolConfig(content: Record<string, unknown>, env: Env, file?: string): ToolConfig {
  const where = file === undefined ? 'config' : file;
  const field = (name: string) => `${where}: ${name}`;
  for (const key of Object.keys(content)) {
    if (!FILE_FIELDS.includes(key)) {
      throw new ConfigurationError(field(key), `is not a known field (known: ${FILE_FIELDS.join(', ')})`);
    }
  }
  const fileString = (object: Record<string, unknown>, key: string, name: string): string | undefined => {
    const value = object[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.trim() === '') {
      throw new ConfigurationError(field(name), 'must be a non-empty string');
    }
    return value.trim();
  };
  const section = (key: string): Record<string, unknown> => {
    const value = content[key];
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigurationError(field(key), 'must be an object');
    }
    return value as Record<string, unknown>;
  };

  const transportText = text(env, 'OMNIBUS_TRANSPORT') ?? fileString(content, 'transport', 'transport');
  const transport = (transportText ?? 'memory') as TransportName;
  if (!TRANSPORTS.includes(transport)) {
    const name = text(env, 'OMNIBUS_TRANSPORT') === undefined ? field('transport') : 'OMNIBUS_TRANSPORT';
    throw new ConfigurationError(name, `must be one of ${TRANSPORTS.join(', ')}, got ${transport}`);
  }

  const brokersIn = section('brokers');
  for (const key of Object.keys(brokersIn)) {
    if (!(key in BROKER_VARIABLES)) {
      throw new ConfigurationError(
        field(`brokers.${key}`),
        `is not a known broker (known: ${Object.keys(BROKER_VARIABLES).join(', ')})`,
      );
    }
  }
  const broker = (key: Exclude<keyof BrokerAddresses, 'kafkaBrokers'>): string =>
    text(env, BROKER_VARIABLES[key]) ?? fileString(brokersIn, key, `brokers.${key}`) ?? DEFAULT_BROKERS[key];
  const kafkaFromEnv = text(env, 'OMNIBUS_KAFKA_BROKERS')
    ?.split(',')
    .map((address) => address.trim())
    .filter((address) => address !== '');
  const kafkaFromFile = brokersIn.kafkaBrokers;
  if (
    kafkaFromFile !== undefined &&
    (!Array.isArray(kafkaFromFile) ||
      kafkaFromFile.length === 0 ||
      !kafkaFromFile.every((address) => typeof address === 'string' && address !== ''))
  ) {
    throw new ConfigurationError(field('brokers.kafkaBrokers'), 'must be a non-empty list of "host:port"');
  }
  const brokers: BrokerAddresses = {
    rabbitmqUrl: broker('rabbitmqUrl'),
    kafkaBrokers: kafkaFromEnv?.length
      ? kafkaFromEnv
      : ((kafkaFromFile as string[]) ?? DEFAULT_BROKERS.kafkaBrokers),
    awsEndpoint: broker('awsEndpoint'),
    pubsubEmulatorHost: broker('pubsubEmulatorHost'),
    natsUrl: broker('natsUrl'),
    amqp10Url: broker('amqp10Url'),
  };
  for (const key of ['rabbitmqUrl', 'awsEndpoint', 'natsUrl', 'amqp10Url'] as const) {
    if (!URL.canParse(brokers[key])) {
      const name =
        text(env, BROKER_VARIABLES[key]) === undefined ? field(`brokers.${key}`) : BROKER_VARIABLES[key];
      throw new ConfigurationError(name, `must be a URL, got ${brokers[key]}`);
    }
  }

  const namePrefix =
    text(env, 'OMNIBUS_NAME_PREFIX') ?? fileString(content, 'namePrefix', 'namePrefix') ?? '';
  if (namePrefix !== '' && !/^[a-z0-9][a-z0-9-]*$/.test(namePrefix)) {
    const name = text(env, 'OMNIBUS_NAME_PREFIX') === undefined ? field('namePrefix') : 'OMNIBUS_NAME_PREFIX';
    throw new ConfigurationError(name, 'must be lowercase letters, digits and dashes');
  }

  const registryUrl =
    text(env, 'OMNIBUS_SCHEMA_REGISTRY_URL') ?? fileString(content, 'registryUrl', 'registryUrl');
  if (registryUrl !== undefined && !/^https?:\/\//.test(registryUrl)) {
    const name =
      text(env, 'OMNIBUS_SCHEMA_REGISTRY_URL') === undefined
        ? field('registryUrl')
        : 'OMNIBUS_SCHEMA_REGISTRY_URL';
    throw new ConfigurationError(name, `must be an http(s) URL, got ${registryUrl}`);
  }

  return {
    transport,
    brokers,
    namePrefix,
    pubsubProject:
      text(env, 'OMNIBUS_PUBSUB_PROJECT') ??
      fileString(content, 'pubsubProject', 'pubsubProject') ??
      'omnibus-sample',
    clientId: 'omnibus-cli',
    database: readDatabase(section('database'), env, field, fileString),
    registryUrl,
    console: readConsole(section('console'), env, field, fileString),
    signing: readSigning(env, fileString(content, 'signingKeysFile', 'signingKeysFile'), field, file),
    contracts: relativeTo(file, fileString(content, 'contracts', 'contracts')),
    file,
  };
}

/** A path named in the file, resolved against the file's folder. */
function relativeTo(file: string | undefined, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  return file === undefined ? resolve(path) : resolve(file, '..', path);
}

function readSigning(
  env: Env,
  fromFile: string | undefined,
  field: (name: string) => string,
  file: string | undefined,
): SigningKeys | undefined {
  const inline = text(env, 'OMNIBUS_SIGNING_KEYS');
  const envFile = text(env, 'OMNIBUS_SIGNING_KEYS_FILE');
  const configFile = relativeTo(file, fromFile);
  const keysFile = envFile ?? configFile;
  const where =
    inline !== undefined
      ? 'OMNIBUS_SIGNING_KEYS'
      : envFile !== undefined
        ? 'OMNIBUS_SIGNING_KEYS_FILE'
        : configFile !== undefined
          ? field('signingKeysFile')
          : undefined;
  if (where === undefined) return undefined;
  let json = inline;
  if (json === undefined) {
    try {
      json = readFileSync(resolve(keysFile!), 'utf8');
    } catch (error) {
      throw new ConfigurationError(where, `cannot read ${keysFile!}: ${(error as Error).message}`);
    }
  }
  let options: unknown;
  try {
    options = JSON.parse(json);
  } catch (error) {
    throw new ConfigurationError(where, `is not JSON: ${(error as Error).message}`);
  }
  return signingKeys(options as SigningOptions, where);
}

function readDatabase(
  content: Record<string, unknown>,
  env: Env,
  field: (name: string) => string,
  fileString: (object: Record<string, unknown>, key: string, name: string) => string | undefined,
): DatabaseConfig | undefined {
  for (const key of Object.keys(content)) {
    if (!['postgres', 'schema', 'sqlite'].includes(key)) {
      throw new ConfigurationError(
        field(`database.${key}`),
        'is not a known field (known: postgres, schema, sqlite)',
      );
    }
  }
  const url = text(env, 'OMNIBUS_DATABASE_URL');
  if (url !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new ConfigurationError(
        'OMNIBUS_DATABASE_URL',
        'must be a postgres:// URL (SQLite: OMNIBUS_SQLITE_PATH)',
      );
    }
    return { kind: 'postgres', url, schema: text(env, 'OMNIBUS_DATABASE_SCHEMA') };
  }
  const sqlitePath = text(env, 'OMNIBUS_SQLITE_PATH');
  if (sqlitePath !== undefined) return { kind: 'sqlite', path: resolve(sqlitePath) };
  const postgres = fileString(content, 'postgres', 'database.postgres');
  const sqlite = fileString(content, 'sqlite', 'database.sqlite');
  if (postgres !== undefined && sqlite !== undefined) {
    throw new ConfigurationError(field('database'), 'give postgres or sqlite, not both');
  }
  if (postgres !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(postgres)) {
      throw new ConfigurationError(field('database.postgres'), 'must be a postgres:// URL');
    }
    return { kind: 'postgres', url: postgres, schema: fileString(content, 'schema', 'database.schema') };
  }
  if (sqlite !== undefined) return { kind: 'sqlite', path: resolve(sqlite) };
  return undefined;
}

function readConsole(
  content: Record<string, unknown>,
  env: Env,
  field: (name: string) => string,
  fileString: (object: Record<string, unknown>, key: string, name: string) => string | undefined,
): ConsoleConfig {
  for (const key of Object.keys(content)) {
    if (!CONSOLE_FIELDS.includes(key)) {
      throw new ConfigurationError(
        field(`console.${key}`),
        `is not a known field (known: ${CONSOLE_FIELDS.join(', ')})`,
      );
    }
  }
  const port = content.port;
  if (port !== undefined && (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65_535)) {
    throw new ConfigurationError(field('console.port'), 'must be an integer from 0 to 65535');
  }
  const buses = content.buses ?? {};
  if (typeof buses !== 'object' || buses === null || Array.isArray(buses)) {
    throw new ConfigurationError(field('console.buses'), 'must be an object of name: health URL');
  }
  for (const [name, url] of Object.entries(buses)) {
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
      throw new ConfigurationError(field(`console.buses.${name}`), 'must be an http(s) URL');
    }
  }
  const names = (key: string): string[] => {
    const value = content[key] ?? [];
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item !== '')) {
      throw new ConfigurationError(field(`console.${key}`), 'must be a list of names');
    }
    return value as string[];
  };
  return {
    deadLetters: names('deadLetters'),
    sagas: names('sagas'),
    host: fileString(content, 'host', 'console.host'),
    port: port as number | undefined,
    token: text(env, 'OMNIBUS_CONSOLE_TOKEN') ?? fileString(content, 'token', 'console.token'),
    buses: buses as Record<string, string>,
  };
}

/** A variable's value, trimmed; undefined when unset or blank. */
function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}
