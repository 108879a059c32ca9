export { AttemptCounter } from './attempt-counter.js';
export {
  ATTRIBUTE_LIMITS,
  PUBSUB_BINDING,
  checkPublishable,
  fromPubSubMessage,
  messageSize,
  toPubSubMessage,
  type IncomingMessage,
  type OutgoingMessage,
} from './message-codec.js';
export type { PubSubConsumer } from './pubsub-consumer.js';
export {
  resolvePubSubOptions,
  type PubSubBatchingOptions,
  type PubSubTransportOptions,
  type ResolvedPubSubOptions,
  type PubSubAuth,
} from './pubsub-options.js';
export { EMULATOR_MAX_MESSAGE_BYTES, PUBSUB_MAX_MESSAGE_BYTES, PubSubTransport } from './pubsub-transport.js';
export { ResourceNames, encodeComponent, type SourceResources } from './resource-names.js';
export { DEAD_LETTER_DELIVERY_COUNT, MAX_DELIVERIES_EXCEEDED } from './server-dead-letters.js';
