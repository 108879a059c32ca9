import type { QueueSource, SagaStore, ScheduleStore, SubscriptionSource } from '@omnibus/core';
import { PostgresSagaStore } from '@omnibus/postgres';
import { SqliteSagaStore, SqliteScheduleStore } from '@omnibus/sqlite';
import { SchemaRegistryClient } from '@omnibus/avro';
import type { Command, CommandGroup } from '../command.js';
import { EXIT_OK, UsageError } from '../command.js';
import { startConsole } from '../console/console-server.js';
import { loadAppContracts } from '../dead-letters/app-contracts.js';
import { PayloadDecoder } from '../dead-letters/payload-decoder.js';
import type { OpenDatabase } from './database-option.js';
import { openDatabase } from './database-option.js';
import { openConfiguredTransport } from './dlq.js';

/** `orders` is a queue; `orders/billing` the subscriber group billing of the channel orders. */
function sourceOf(name: string): SubscriptionSource | QueueSource {
  const slash = name.indexOf('/');
  return slash < 0
    ? { kind: 'queue', queue: name }
    : { kind: 'subscription', channel: name.slice(0, slash), group: name.slice(slash + 1) };
}

const consoleCommand: Command = {
  name: 'start',
  summary: 'the web console: dead letters, scheduled messages, sagas, bus health (127.0.0.1:8090 by default)',
  options: { config: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' } },
  optionHelp: [
    '--config <file>    the tool configuration (default: $OMNIBUS_CONFIG, ./omnibus.config.json or .js)',
    '--host <address>   where to listen (default 127.0.0.1; another needs $OMNIBUS_CONSOLE_TOKEN)',
    '--port <n>         default 8090 (console.port in the configuration)',
  ],
  async run(options, io) {
    const port = options.port === undefined ? undefined : Number(options.port);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65_535)) {
      throw new UsageError('--port must be an integer from 0 to 65535');
    }
    const opened = await openConfiguredTransport(options, io);
    const { config } = opened;
    let database: OpenDatabase | undefined;
    try {
      if (config.database !== undefined) {
        database = await openDatabase({ config: options.config }, io, {
          sqliteTable: 'omnibus_schedules',
          postgresTable: (persistence) => persistence.schema.schedules,
          missingInSqlite: (path) =>
            `${path} has no scheduled-messages table: run omnibus migrate --sqlite first`,
          missingInPostgres: 'this database has no scheduled-messages table: run omnibus migrate first',
        });
      }
      let schedules: ScheduleStore | undefined;
      let sagas: SagaStore | undefined;
      if (database?.kind === 'sqlite') {
        schedules = new SqliteScheduleStore(database.session);
        sagas = new SqliteSagaStore({ unitOfWork: database.session });
      } else if (database?.kind === 'postgres') {
        schedules = database.persistence.schedules;
        sagas = new PostgresSagaStore(database.persistence);
      }
      const running = await startConsole({
        ...((options.host ?? config.console.host) === undefined
          ? {}
          : { host: (options.host ?? config.console.host) as string }),
        port: port ?? config.console.port ?? 8090,
        ...(config.console.token === undefined ? {} : { token: config.console.token }),
        transport: opened.transport,
        deadLetters: config.console.deadLetters.map(sourceOf),
        decoder: new PayloadDecoder(
          config.registryUrl === undefined
            ? undefined
            : new SchemaRegistryClient({ url: config.registryUrl }),
          config.contracts === undefined ? undefined : await loadAppContracts(config.contracts),
        ),
        firstWaitMs: config.transport === 'kafka' ? 15_000 : 3_000,
        ...(config.signing === undefined ? {} : { signing: config.signing }),
        ...(schedules === undefined ? {} : { schedules }),
        ...(sagas === undefined ? {} : { sagas }),
        sagaNames: config.console.sagas,
        buses: config.console.buses,
        log: io.stderr,
      });
      io.stdout(`omnibus console on ${running.url}`);
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) resolve();
        io.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await running.close();
      return EXIT_OK;
    } finally {
      await database?.close();
      await opened.close();
    }
  },
};

export const consoleCommands: CommandGroup = {
  name: 'console',
  summary: 'the web console',
  commands: [consoleCommand],
};
