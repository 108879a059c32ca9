export { runTransportConformance, type TransportConformanceOptions } from './conformance.js';
export {
  SECURITY_CONFORMANCE_SIGNING,
  runSecurityConformance,
  type SecurityConformanceOptions,
} from './security-conformance.js';
export { describeIntegration } from './integration.js';
export { uniqueName } from './names.js';
export { waitFor, type WaitOptions } from './wait-for.js';
export { IpcTransport, bridgeIpc, type BridgeOptions } from './ipc-transport.js';
export { collectChannel } from './collect.js';
export {
  runPersistenceConformance,
  type PersistenceConformanceOptions,
  type PersistenceUnderTest,
  type PersistenceWithOutage,
} from './persistence-conformance.js';
export { serveOutboxRelay, type RelayProcessModule } from './relay-process.js';
export { runScheduleConformance, type ScheduleConformanceOptions } from './schedule-conformance.js';
export {
  runRequestReplyConformance,
  type RequestReplyConformanceOptions,
} from './request-reply-conformance.js';
