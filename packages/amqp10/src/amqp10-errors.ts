import { OmnibusError, TransportError } from '@omnibus/core';

/** AMQP 1.0 error conditions (spec part 2.8.15) that another attempt cannot fix. */
const PERMANENT: Readonly<Record<string, string>> = {
  'amqp:unauthorized-access': 'ACCESS_REFUSED',
  'amqp:not-found': 'NOT_PROVISIONED',
  'amqp:not-allowed': 'NOT_ALLOWED',
  'amqp:not-implemented': 'NOT_ALLOWED',
  'amqp:invalid-field': 'INVALID_MESSAGE',
  'amqp:decode-error': 'INVALID_MESSAGE',
  'amqp:link:message-size-exceeded': 'MESSAGE_TOO_LARGE',
};

/** The condition of a rhea error or AMQP error description, if any. */
export function conditionOf(error: unknown): string | undefined {
  const condition = (error as { condition?: unknown } | null)?.condition;
  return typeof condition === 'string' ? condition : undefined;
}

/**
 * Turns a rhea error, an AMQP error description (`{ condition, description }`) or a socket error into a
 * `TransportError` whose code says what happened; the message says what we were doing. Classified by the
 * AMQP condition, never by message text.
 */
export function toTransportError(error: unknown, doing: string): OmnibusError {
  if (error instanceof OmnibusError) return error;
  const description = (error as { description?: unknown } | null)?.description;
  const detail =
    error instanceof Error ? error.message : typeof description === 'string' ? description : String(error);
  const condition = conditionOf(error);
  const message = `${doing}: ${condition === undefined ? '' : `${condition}: `}${detail}`;
  const code = condition === undefined ? undefined : PERMANENT[condition];
  if (code !== undefined) return new TransportError(message, { code, retriable: false, cause: error });
  return new TransportError(message, { code: 'TRANSPORT_ERROR', retriable: true, cause: error });
}

/**
 * A link attach the broker refused. `amqp:illegal-state` there means the address exists with a routing
 * type other than ours (Artemis: "is not configured for queue support"): provisioning cannot fix that, so
 * it is an `INCOMPATIBLE_TOPOLOGY` error, not retried. Anything else as {@link toTransportError}.
 */
export function toAttachError(error: unknown, doing: string): OmnibusError {
  if (conditionOf(error) !== 'amqp:illegal-state') return toTransportError(error, doing);
  const description = (error as { description?: unknown } | null)?.description;
  return new TransportError(
    `${doing}: the address exists with another routing type than this topology needs ` +
      `(${typeof description === 'string' ? description : 'amqp:illegal-state'}); delete it or rename ours`,
    { code: 'INCOMPATIBLE_TOPOLOGY', retriable: false, cause: error },
  );
}

export function notConnected(doing: string): TransportError {
  return new TransportError(`${doing}: not connected to the AMQP 1.0 broker (reconnecting)`, {
    code: 'NOT_CONNECTED',
    retriable: true,
  });
}
