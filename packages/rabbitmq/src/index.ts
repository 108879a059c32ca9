// What an application configures: the transport and its options. The names class tells operators and
// tools which exchanges and queues a topology becomes. Codecs and the rest are internal.
export { RabbitMqTransport } from './rabbitmq-transport.js';
export {
  DEFAULT_RABBITMQ_URL,
  type RabbitMqReconnectOptions,
  type RabbitMqTlsOptions,
  type RabbitMqTransportOptions,
} from './rabbitmq-options.js';
export { RabbitMqNames } from './rabbitmq-names.js';
