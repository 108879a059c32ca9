export { runRegistryStoreConformance, type RegistryStoreConformanceOptions } from './store-conformance.js';
