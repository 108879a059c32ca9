import type { RunningRegistry } from '@omnibus/schema-registry';
import { MemoryRegistryStore, startRegistry } from '@omnibus/schema-registry';

/** A schema registry in this process, on a free loopback port: for a bus without a registry URL. */
export function startLocalRegistry(): Promise<RunningRegistry> {
  return startRegistry({ port: 0, host: '127.0.0.1', store: new MemoryRegistryStore() });
}
