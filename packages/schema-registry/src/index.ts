export { basicAuthorizer, type BasicAuthCredentials } from './basic-auth.js';
export { RegistryHttpError } from './registry-http-error.js';
export {
  RegistryService,
  type SchemaRequest,
  type VersionRef,
  type VersionView,
} from './registry-service.js';
export {
  RESPONSE_CONTENT_TYPE,
  startRegistry,
  type RegistryServerOptions,
  type RunningRegistry,
} from './registry-server.js';
export type { RegistryMode, RegistryStore, StoredVersion } from './store.js';
export { MemoryRegistryStore } from './stores/memory-store.js';
export { SqliteRegistryStore } from './stores/sqlite-store.js';
