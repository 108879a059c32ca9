/**
 * Attribute names of OpenTelemetry's messaging semantic conventions (v1.45.0, status Development), and
 * ours under `omnibus.*` where the conventions have none.
 */
export const Attribute = {
  system: 'messaging.system',
  destination: 'messaging.destination.name',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  messageId: 'messaging.message.id',
  conversationId: 'messaging.message.conversation_id',
  bodySize: 'messaging.message.body.size',
  consumerGroup: 'messaging.consumer.group.name',
  batchCount: 'messaging.batch.message_count',
  errorType: 'error.type',
  eventType: 'cloudevents.event_type',
  /** Our delivery count: 1 on the first delivery (see `Delivery.attempt`). */
  attempt: 'omnibus.delivery.attempt',
  /** On a dead letter: the handler calls it had in all, immediate retries included. */
  attempts: 'omnibus.dead_letter.attempts',
  /** How the handling settled its delivery: `ack`, `retry`, `dead_letter`, or `unsettled` (settle failed). */
  outcome: 'omnibus.outcome',
  /** On a request answered by an error reply: the code the responder's handler failed with. */
  remoteCode: 'omnibus.request.remote_error_code',
  /** Whether the destination is a reply address, made for one instance (the conventions' attribute). */
  temporary: 'messaging.destination.temporary',
  /** Why a message on a reply address was dropped: `late`, `unknown` or `malformed`. */
  dropReason: 'omnibus.reply.drop_reason',
  /** The delay a retried delivery waits, in ms. */
  retryDelay: 'omnibus.retry.delay_ms',
} as const;

/** Our transport names → `messaging.system` values of the conventions (ours where they list none). */
const SYSTEMS: Readonly<Record<string, string>> = {
  kafka: 'kafka',
  rabbitmq: 'rabbitmq',
  aws: 'aws_sqs',
  pubsub: 'gcp_pubsub',
  amqp10: 'activemq',
  nats: 'nats',
  memory: 'omnibus_memory',
};

export function messagingSystem(transportName: string): string {
  return SYSTEMS[transportName] ?? transportName;
}

export type Outcome = 'ack' | 'retry' | 'dead_letter' | 'unsettled';
