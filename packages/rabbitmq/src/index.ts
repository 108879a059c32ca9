export { RabbitMqTransport } from './rabbitmq-transport.js';
export {
  DEFAULT_RABBITMQ_URL,
  type RabbitMqReconnectOptions,
  type RabbitMqTlsOptions,
  type RabbitMqTransportOptions,
} from './rabbitmq-options.js';
export { TopologyNames } from './topology-names.js';
