// What an application configures: the transport and its options. The names class tells operators and
// tools which topics and queues a topology becomes. Codecs and the rest are internal.
export { SqsSnsTransport } from './aws-transport.js';
export type { SqsSnsTransportOptions, StaticCredentials } from './aws-options.js';
export type { QueueRef } from './aws-provisioner.js';
export { AwsNames } from './aws-names.js';
