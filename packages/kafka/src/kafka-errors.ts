import { isOmnibusError, TransportError } from '@omnibus/core';

/**
 * The fields of a client error this module reads: kafkajs errors carry the broker error in `type`,
 * @platformatic/kafka's in `apiId` (the same names), and wrap several in `errors`.
 */
interface KafkaJsErrorLike {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly type?: unknown;
  readonly apiId?: unknown;
  readonly retriable?: unknown;
  readonly cause?: unknown;
  readonly errors?: unknown;
}

/** Broker error types that retrying cannot fix, and the code we report them with. */
const PERMANENT: Readonly<Record<string, string>> = {
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  RECORD_LIST_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  UNKNOWN_TOPIC_OR_PARTITION: 'NOT_PROVISIONED',
  TOPIC_AUTHORIZATION_FAILED: 'AUTHORIZATION_FAILED',
  GROUP_AUTHORIZATION_FAILED: 'AUTHORIZATION_FAILED',
  CLUSTER_AUTHORIZATION_FAILED: 'AUTHORIZATION_FAILED',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'AUTHORIZATION_FAILED',
  SASL_AUTHENTICATION_FAILED: 'AUTHENTICATION_FAILED',
  UNSUPPORTED_SASL_MECHANISM: 'AUTHENTICATION_FAILED',
  INVALID_TOPIC_EXCEPTION: 'INVALID_NAME',
  POLICY_VIOLATION: 'POLICY_VIOLATION',
  INVALID_REPLICATION_FACTOR: 'INVALID_TOPIC_CONFIGURATION',
  INVALID_PARTITIONS: 'INVALID_TOPIC_CONFIGURATION',
  INVALID_CONFIG: 'INVALID_TOPIC_CONFIGURATION',
};

/** Whether retrying could help: false for the permanent broker errors `toTransportError` names. */
export function isRetriableKafkaError(error: unknown): boolean {
  return toTransportError(error, 'sending').retriable;
}

/**
 * Anything a client call threw → `TransportError`. Broker errors that retrying cannot fix (too large,
 * unknown topic, authorization) are non-retriable with their own code; the rest (connections, timeouts,
 * leaders moving, retries exhausted) are retriable: the broker may be back soon.
 */
export function toTransportError(error: unknown, action: string): TransportError {
  if (isOmnibusError(error) && error instanceof TransportError) return error;
  const root = rootCause(error);
  const message = `kafka: ${action} failed: ${describe(root)}`;
  if (root.name === 'KafkaJSSASLAuthenticationError' || root.code === 'PLT_KFK_AUTHENTICATION') {
    return new TransportError(message, { code: 'AUTHENTICATION_FAILED', retriable: false, cause: error });
  }
  const type =
    typeof root.type === 'string' ? root.type : typeof root.apiId === 'string' ? root.apiId : undefined;
  const permanent = type === undefined ? undefined : PERMANENT[type];
  if (permanent !== undefined) {
    return new TransportError(message, { code: permanent, retriable: false, cause: error });
  }
  return new TransportError(message, {
    code: type === undefined ? 'TRANSPORT_ERROR' : `KAFKA_${type}`,
    retriable: true,
    cause: error,
  });
}

/** The clients wrap the error that ended their retries; the interesting one is innermost. */
function rootCause(error: unknown): KafkaJsErrorLike {
  let current = (error ?? {}) as KafkaJsErrorLike;
  for (let depth = 0; depth < 8; depth++) {
    const errors = current.errors;
    if (
      (current.name === 'KafkaJSAggregateError' ||
        current.code === 'PLT_KFK_MULTIPLE' ||
        current.code === 'PLT_KFK_RESPONSE') &&
      Array.isArray(errors) &&
      errors.length > 0
    ) {
      current = errors[0] as KafkaJsErrorLike;
    } else if (
      current.name === 'KafkaJSNumberOfRetriesExceeded' &&
      current.cause !== undefined &&
      current.cause !== current
    ) {
      current = current.cause as KafkaJsErrorLike;
    } else {
      break;
    }
  }
  return current;
}

function describe(error: KafkaJsErrorLike): string {
  const message = typeof error.message === 'string' ? error.message : 'unknown error';
  return typeof error.name === 'string' ? `${error.name}: ${message}` : message;
}
