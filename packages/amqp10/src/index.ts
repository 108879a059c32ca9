export { Amqp10Transport } from './amqp10-transport.js';
export type { Amqp10TlsOptions, Amqp10TransportOptions } from './amqp10-options.js';
export { AMQP10_BINDING } from './amqp10-codec.js';
