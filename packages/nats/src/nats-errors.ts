import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { errors } from '@nats-io/transport-node';
import { OmnibusError, TransportError } from '@omnibus/core';

/** JetStream API error codes we classify (the server's `err_code`). */
export const JsErrorCode = {
  streamNotFound: 10059,
  consumerNotFound: 10014,
  streamNameInUse: 10058,
  consumerNameExists: 10148,
  maxPayload: 10054,
} as const;

/**
 * Turns a NATS or JetStream error into a `TransportError` whose code says what happened; the message says
 * what we were doing (`doing`). Classified by error class and JetStream API code, never by message text.
 */
export function toTransportError(error: unknown, doing: string): OmnibusError {
  if (error instanceof OmnibusError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  const message = `${doing}: ${detail}`;
  const fail = (code: string, retriable: boolean) =>
    new TransportError(message, { code, retriable, cause: error });
  if (error instanceof JetStreamApiError) {
    switch (error.code) {
      case JsErrorCode.streamNotFound:
      case JsErrorCode.consumerNotFound:
        return fail('NOT_PROVISIONED', false);
      case JsErrorCode.streamNameInUse:
      case JsErrorCode.consumerNameExists:
        return fail('INCOMPATIBLE_TOPOLOGY', false);
      case JsErrorCode.maxPayload:
        return fail('MESSAGE_TOO_LARGE', false);
      default:
        return fail('TRANSPORT_ERROR', true);
    }
  }
  if (error instanceof errors.AuthorizationError || error instanceof errors.PermissionViolationError) {
    return fail('ACCESS_REFUSED', false);
  }
  if (error instanceof errors.NoRespondersError) return fail('NOT_PROVISIONED', true);
  if (error instanceof errors.TimeoutError) return fail('NOT_CONFIRMED', true);
  if (error instanceof errors.ClosedConnectionError || error instanceof errors.ConnectionError) {
    return fail('CONNECTION_LOST', true);
  }
  if (error instanceof errors.InvalidArgumentError && /max_payload|payload/i.test(detail)) {
    return fail('MESSAGE_TOO_LARGE', false);
  }
  if (error instanceof JetStreamError) return fail('TRANSPORT_ERROR', true);
  return fail('TRANSPORT_ERROR', true);
}

export function jsApiCode(error: unknown): number | undefined {
  return error instanceof JetStreamApiError ? error.code : undefined;
}
