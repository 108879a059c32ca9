// What an application configures: the transport and its options. The names class tells operators and
// tools which streams, subjects and consumers a topology becomes. Codecs and the rest are internal.
export { NatsTransport } from './nats-transport.js';
export {
  DEFAULT_NATS_URL,
  type NatsAuthOptions,
  type NatsTlsOptions,
  type NatsTransportOptions,
} from './nats-options.js';
export { NatsNames } from './nats-names.js';
