import { readFile } from 'node:fs/promises';
import type { Logger } from '@omnibus/core';
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

/** Info and above as one JSON object per line on the command's stderr: failed logins, store errors. */
function jsonLinesLogger(io: CommandIo): Logger {
  const write =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void =>
      io.stderr(JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields }));
  return { debug: () => undefined, info: write('info'), warn: write('warn'), error: write('error') };
}

const serve: Command = {
  name: 'serve',
  summary: 'run a schema registry with the Confluent REST API until interrupted',
  options: {
    port: { type: 'string', short: 'p', default: '8081' },
    host: { type: 'string', default: '127.0.0.1' },
    store: { type: 'string', default: 'memory' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'allowed-hosts': { type: 'string' },
    'allow-unauthenticated-remote': { type: 'boolean', default: false },
    ...basicAuthOptions,
  },
  optionHelp: [
    '-p, --port <n>            port to listen on (default 8081; 0 picks a free one)',
    '--host <address>          interface to listen on (default 127.0.0.1; 0.0.0.0 for all)',
    '--store <memory|sqlite:path>  where schemas live (default memory: gone when it stops)',
    '--tls-cert <file> --tls-key <file>  serve HTTPS with this PEM certificate and key',
    '--allowed-hosts <a,b>     host names the Host header may carry (default: loopback, this host; any)',
    '--allow-unauthenticated-remote  serve a non-loopback interface without basic auth',
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
    const certFile = options['tls-cert'];
    const keyFile = options['tls-key'];
    if ((certFile === undefined) !== (keyFile === undefined)) {
      throw new UsageError('--tls-cert and --tls-key go together');
    }
    const tls =
      typeof certFile === 'string' && typeof keyFile === 'string'
        ? { cert: await readFile(certFile), key: await readFile(keyFile) }
        : undefined;
    const allowed = options['allowed-hosts'];
    const allowedHosts =
      typeof allowed !== 'string' ? undefined : allowed === 'any' ? ('any' as const) : allowed.split(',');
    const store = await openStore(String(options.store));
    try {
      const registry = await startRegistry({
        port,
        host: String(options.host),
        store,
        logger: jsonLinesLogger(io),
        allowUnauthenticatedRemote: options['allow-unauthenticated-remote'] === true,
        ...(auth === undefined ? {} : { auth }),
        ...(tls === undefined ? {} : { tls }),
        ...(allowedHosts === undefined ? {} : { allowedHosts }),
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
