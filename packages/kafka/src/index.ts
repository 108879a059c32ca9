export { KafkaTransport } from './kafka-transport.js';
export type { KafkaConsumerOptions, KafkaSaslOptions, KafkaTransportOptions } from './kafka-options.js';
export type { KafkaNames, SourceTopology } from './kafka-names.js';
export type { KafkaClientName } from './kafka-client.js';
