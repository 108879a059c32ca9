import type { RegistryStore } from '@omnibus/schema-registry';
import { MemoryRegistryStore, SqliteRegistryStore, startRegistry } from '@omnibus/schema-registry';
import { basicAuthHelp, basicAuthOptions, readBasicAuth } from '../basic-auth-option.js';
import type { Command, CommandGroup, CommandIo, OptionValues } from '../command.js';
import { EXIT_OK, UsageError } from '../command.js';

async function openStore(spec: string): Promise<RegistryStore> {
  if (spec === 'memory') return new MemoryRegistryStore();
  if (spec.startsWith('sqlite:') && spec.length > 'sqlite:'.length) {
    return SqliteRegistryStore.open(spec.slice('sqlite:'.length));
  }
  throw new UsageError(`--store must be memory or sqlite:<path>, got ${JSON.stringify(spec)}`);
}

const serve: Command = {
  name: 'serve',
  summary: 'run a schema registry with the Confluent REST API until interrupted',
  options: {
    port: { type: 'string', short: 'p', default: '8081' },
    host: { type: 'string', default: '127.0.0.1' },
    store: { type: 'string', default: 'memory' },
    ...basicAuthOptions,
  },
  optionHelp: [
    '-p, --port <n>            port to listen on (default 8081; 0 picks a free one)',
    '--host <address>          interface to listen on (default 127.0.0.1; 0.0.0.0 for all)',
    '--store <memory|sqlite:path>  where schemas live (default memory: gone when it stops)',
    ...basicAuthHelp('OMNIBUS_REGISTRY_BASIC_AUTH').map((line) =>
      line.replace('basic auth', 'require basic auth'),
    ),
  ],
  async run(options: OptionValues, io: CommandIo): Promise<number> {
    const port = Number(options.port);
    if (!/^\d+$/.test(String(options.port)) || port > 65_535) {
      throw new UsageError(`--port must be a port number, got ${String(options.port)}`);
    }
    const auth = readBasicAuth(options, io.env, 'OMNIBUS_REGISTRY_BASIC_AUTH');
    const store = await openStore(String(options.store));
    try {
      const registry = await startRegistry({
        port,
        host: String(options.host),
        store,
        ...(auth === undefined ? {} : { auth }),
      });
      io.stdout(`schema registry listening on ${registry.url} (store: ${String(options.store)})`);
      if (!io.signal.aborted) {
        await new Promise<void>((resolve) =>
          io.signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      }
      await registry.close();
      io.stdout('schema registry stopped');
      return EXIT_OK;
    } finally {
      await store.close();
    }
  },
};

export const registryCommands: CommandGroup = {
  name: 'registry',
  summary: 'the schema registry server',
  commands: [serve],
};
