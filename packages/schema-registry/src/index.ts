export type { BasicAuthCredentials } from './basic-auth.js';
export { startRegistry, type RegistryServerOptions, type RunningRegistry } from './registry-server.js';
export type { RegistryMode, RegistryStore, StoredVersion } from './store.js';
export { MemoryRegistryStore } from './stores/memory-store.js';
export { SqliteRegistryStore } from './stores/sqlite-store.js';
export { DEFAULT_REGISTRY_LIMITS, type RegistryLimits } from './registry-limits.js';
