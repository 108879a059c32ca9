export { KafkaTransport } from './kafka-transport.js';
export type { KafkaConsumerOptions, KafkaSaslOptions, KafkaTransportOptions } from './kafka-options.js';
export { KafkaNames, type SourceTopology } from './kafka-names.js';
export { ATTEMPT_HEADER, DUE_AT_HEADER, KAFKA_BINDING } from './record-codec.js';
