export { SqsSnsTransport } from './sqs-sns-transport.js';
export type { SqsSnsTransportOptions, StaticCredentials } from './sqs-sns-options.js';
export type { QueueRef } from './aws-resources.js';
export { ResourceNames } from './resource-names.js';
export {
  decodeMessage,
  encodeMessage,
  SQS_BINDING,
  MAX_ATTRIBUTES,
  MAX_MESSAGE_BYTES,
  PACKED_ATTRIBUTE,
  KEY_ATTRIBUTE,
  BODY_ENCODING_ATTRIBUTE,
  type AttributeValue,
  type EncodedMessage,
} from './message-codec.js';
