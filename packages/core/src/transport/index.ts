/**
 * `@omnibus/core/transport`: what a driver author needs. The transport contract (the interfaces the bus
 * calls), the envelope's CloudEvents bindings and failure headers, and the small pieces every driver
 * shares, so each broker's driver holds only what is particular to its broker.
 */
export type {
  Capabilities,
  ChannelTopology,
  ConsumeOptions,
  Consumer,
  Delivery,
  DeliverySink,
  Destination,
  Failure,
  HealthReport,
  QueueSource,
  QueueTopology,
  Source,
  SubscriptionSource,
  SubscriptionTopology,
  Topology,
  Transport,
} from '../transport.js';
export { describeDestination, describeSource } from '../transport.js';
export {
  CLOUDEVENTS_SPEC_VERSION,
  Header,
  envelopeSize,
  fromBindingHeaders,
  fromStructuredCloudEvent,
  isCloudEventsAttributeName,
  toBindingHeaders,
  type BindingStyle,
  type DecodedBinding,
  type Envelope,
} from '../envelope.js';
export { withFailureHeaders, withoutFailureHeaders } from '../dead-letter.js';
export { abortableDelay } from '../clock.js';
export { positiveInteger } from '../bus-options.js';
export { DONE } from '../done.js';
export type { ConsumerSettings } from './consumer-settings.js';
export type { DeliveryOutcome, DeliverySettler } from './delivery-settler.js';
export { KeyOrderGate } from './key-order-gate.js';
export { checkMessageSizes } from './message-size.js';
export { SettleOnce } from './settle-once.js';
export { SinkCalls } from './sink-calls.js';
export { coalesceSocketWrites } from './socket-writes.js';
export { MessageTooLargeError, TransportClosedError } from './transport-errors.js';
export { ATTEMPT_SEAL_HEADER, attemptSealValid, sealAttempt } from '../signing/attempt-seal.js';
export { replayedEnvelope, type ReplayStamp } from '../dead-letter-replay.js';
export {
  supportsReplies,
  type ReplyAddress,
  type ReplySink,
  type ReplyTransport,
} from '../request-reply/reply-transport.js';
export { ReplyHeader } from '../request-reply/reply-headers.js';
