export { NatsTransport } from './nats-transport.js';
export {
  DEFAULT_NATS_URL,
  type NatsAuthOptions,
  type NatsTlsOptions,
  type NatsTransportOptions,
} from './nats-options.js';
export { NatsNames } from './nats-names.js';
export { NATS_BINDING } from './nats-codec.js';
