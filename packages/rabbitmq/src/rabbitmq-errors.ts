import { IllegalOperationError } from 'amqplib';
import { OmnibusError, TransportError } from '@omnibus/core';

/** AMQP 0-9-1 reply codes that RabbitMQ closes channels and connections with. */
export const ReplyCode = {
  accessRefused: 403,
  notFound: 404,
  resourceLocked: 405,
  preconditionFailed: 406,
  notAllowed: 530,
} as const;

/** The reply code an amqplib error carries (server closes), if any. */
export function replyCodeOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Turns an amqplib or socket error into a `TransportError` whose code says what happened; the message
 * says what we were doing (`doing`). Broker refusals that another attempt cannot fix are not retriable.
 * Classified by reply code and error class, never by message.
 */
export function toTransportError(error: unknown, doing: string): OmnibusError {
  if (error instanceof OmnibusError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  const message = `${doing}: ${detail}`;
  switch (replyCodeOf(error)) {
    case ReplyCode.notFound:
      return new TransportError(message, { code: 'NOT_PROVISIONED', retriable: false, cause: error });
    case ReplyCode.preconditionFailed:
      return new TransportError(message, { code: 'INCOMPATIBLE_TOPOLOGY', retriable: false, cause: error });
    case ReplyCode.accessRefused:
    case ReplyCode.notAllowed:
      return new TransportError(message, { code: 'ACCESS_REFUSED', retriable: false, cause: error });
    case ReplyCode.resourceLocked:
      return new TransportError(message, { code: 'RESOURCE_LOCKED', retriable: true, cause: error });
    default:
      break;
  }
  if (error instanceof IllegalOperationError) {
    return new TransportError(message, { code: 'CONNECTION_LOST', retriable: true, cause: error });
  }
  if (error instanceof RangeError) {
    // amqplib refuses a headers table over 64 KiB before sending anything.
    return new TransportError(message, { code: 'MESSAGE_TOO_LARGE', retriable: false, cause: error });
  }
  return new TransportError(message, { code: 'TRANSPORT_ERROR', retriable: true, cause: error });
}
