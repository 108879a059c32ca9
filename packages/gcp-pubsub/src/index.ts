// What an application configures: the transport and its options. The names class tells operators and
// tools which topics and subscriptions a topology becomes. Codecs and the rest are internal.
export { PubSubTransport } from './pubsub-transport.js';
export type { PubSubAuth, PubSubBatchingOptions, PubSubTransportOptions } from './pubsub-options.js';
export { PubSubNames } from './pubsub-names.js';
