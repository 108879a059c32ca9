import type { MemoryTransport, Transport } from '@omnibus/core';
import { transportFromConfig } from '@omnibus/cli';
import type { SampleConfig } from './sample-config.js';

/**
 * The transport `config.transport` names, on the lab's addresses, built by the same factory the `omnibus`
 * tools use. `memory` is one process's bus: pass the `MemoryTransport` the services of that process share.
 */
export function createTransport(config: SampleConfig, memory?: MemoryTransport): Transport {
  return transportFromConfig({ ...config, clientId: config.service }, memory);
}
