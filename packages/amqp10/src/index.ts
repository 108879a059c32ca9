// What an application configures: the transport and its options. The names class tells operators and
// tools which addresses and queues a topology becomes. Codecs and the rest are internal.
export { Amqp10Transport } from './amqp10-transport.js';
export { DEFAULT_AMQP10_URL, type Amqp10TlsOptions, type Amqp10TransportOptions } from './amqp10-options.js';
export { Amqp10Names } from './amqp10-names.js';
