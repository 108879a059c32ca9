/**
 * Every `code` an Omnibus package gives an `OmnibusError` (and the dead-letter failure it becomes), in one
 * catalogue: match on these, never on a message. Where one package decides on another's failure there is
 * a class as well (`PersistenceUnavailableError`, `CircuitOpenError`, ...): test it with `instanceof`.
 * The Kafka driver adds `KAFKA_<type>` for a broker error type it has no better name for. A test keeps
 * this list complete: a code thrown in `packages/<pkg>/src` and missing here fails it.
 */
export const ErrorCode = {
  // Any failure
  /** An `OmnibusError` made without a code. */
  OMNIBUS_ERROR: 'OMNIBUS_ERROR',
  /** A handler threw an error that is not an `OmnibusError` (retriable). */
  HANDLER_ERROR: 'HANDLER_ERROR',
  /** A handler threw a value that is not an error at all (retriable). */
  NON_ERROR_THROWN: 'NON_ERROR_THROWN',
  /** `NonRetriableError`: the handler says retrying cannot help. */
  NON_RETRIABLE: 'NON_RETRIABLE',
  /** `ConfigurationError`: an option failed validation; `field` names it. */
  INVALID_CONFIGURATION: 'INVALID_CONFIGURATION',
  /** `TimeoutError`: past a deadline (a handler's `timeoutMs`, a broker that did not answer). */
  TIMEOUT: 'TIMEOUT',
  /** `CircuitOpenError`: the consumer's circuit is open; retried after the cool-down. */
  CIRCUIT_OPEN: 'CIRCUIT_OPEN',
  /** `ConcurrencyError`: an optimistic-concurrency conflict; retrying re-reads. */
  CONCURRENCY_CONFLICT: 'CONCURRENCY_CONFLICT',
  /** The bus stopped while a delivery was being handled; it is redelivered. */
  BUS_STOPPING: 'BUS_STOPPING',
  /** `BusNotStartedError`: a publish or send before `bus.start()` finished. */
  BUS_NOT_STARTED: 'BUS_NOT_STARTED',
  /** `UnknownMessageTypeError`: a command queue delivered a type none of its handlers handles. */
  UNKNOWN_MESSAGE_TYPE: 'UNKNOWN_MESSAGE_TYPE',
  /** A due time that cannot be (an invalid `Date`, a negative delay, both given). */
  INVALID_SCHEDULE: 'INVALID_SCHEDULE',
  /** A dead letter whose failure headers carry no code. */
  UNKNOWN: 'UNKNOWN',
  /** A conformance suite of `@omnibus/core/testing` ran without chai installed. */
  TESTING_PEER_MISSING: 'TESTING_PEER_MISSING',

  // Reading and writing payloads (not retriable)
  /** `DeserializationError`: bytes or headers that cannot be turned into a message. */
  DESERIALIZATION_FAILED: 'DESERIALIZATION_FAILED',
  /** A body that is not valid JSON or Avro. */
  MALFORMED_BODY: 'MALFORMED_BODY',
  /** A message without a content type. */
  MISSING_CONTENT_TYPE: 'MISSING_CONTENT_TYPE',
  /** A content type no registered serializer reads. */
  UNKNOWN_CONTENT_TYPE: 'UNKNOWN_CONTENT_TYPE',
  /** A message without an id or a type. */
  MISSING_HEADER: 'MISSING_HEADER',
  /** An Avro string that is not valid UTF-8. */
  INVALID_UTF8: 'INVALID_UTF8',
  /** `SignatureError`: signing is required and the message carries no signature. */
  SIGNATURE_MISSING: 'SIGNATURE_MISSING',
  /** `SignatureError`: the signature does not match the message (altered, or forged). */
  SIGNATURE_INVALID: 'SIGNATURE_INVALID',
  /** `SignatureError`: the message names a signing key this service does not have. */
  SIGNATURE_KEY_UNKNOWN: 'SIGNATURE_KEY_UNKNOWN',
  /** An Avro body claiming more items or bytes than the decoder's limits allow. */
  AVRO_LIMIT_EXCEEDED: 'AVRO_LIMIT_EXCEEDED',
  /** A body that is not in the Confluent wire format (magic byte, schema id). */
  INVALID_WIRE_FORMAT: 'INVALID_WIRE_FORMAT',
  /** `SchemaError`: a payload that does not fit its schema. */
  SCHEMA_ERROR: 'SCHEMA_ERROR',
  /** `ContractViolationError`: a payload that fails its contract's `validate` schema. */
  CONTRACT_VIOLATION: 'CONTRACT_VIOLATION',
  /** An Avro payload whose values do not match the schema. */
  PAYLOAD_MISMATCH: 'PAYLOAD_MISMATCH',
  /** An Avro decimal that does not fit its precision or scale. */
  DECIMAL_OUT_OF_RANGE: 'DECIMAL_OUT_OF_RANGE',
  /** An Avro contract without a schema. */
  NO_SCHEMA: 'NO_SCHEMA',
  /** An Avro schema without a name where the subject strategy needs one. */
  UNNAMED_SCHEMA: 'UNNAMED_SCHEMA',
  /** An Avro schema that cannot be parsed, or one the registry refuses as invalid. */
  INVALID_SCHEMA: 'INVALID_SCHEMA',
  /** An Avro schema file that does not exist. */
  SCHEMA_FILE_NOT_FOUND: 'SCHEMA_FILE_NOT_FOUND',
  /** A schema id the registry does not know. */
  UNKNOWN_SCHEMA_ID: 'UNKNOWN_SCHEMA_ID',
  /** A schema that must be registered before it is used (auto-registration off). */
  SCHEMA_NOT_REGISTERED: 'SCHEMA_NOT_REGISTERED',
  /** The registry refused to register a schema. */
  SCHEMA_REGISTRATION_FAILED: 'SCHEMA_REGISTRATION_FAILED',
  /** A schema incompatible with the subject's earlier versions. */
  INCOMPATIBLE_SCHEMA: 'INCOMPATIBLE_SCHEMA',

  // Schema registry
  /** `RegistryError` with no more precise code. */
  REGISTRY_ERROR: 'REGISTRY_ERROR',
  /** The registry could not be reached (retriable). */
  REGISTRY_UNREACHABLE: 'REGISTRY_UNREACHABLE',
  /** The registry refused the credentials (401). */
  REGISTRY_UNAUTHORIZED: 'REGISTRY_UNAUTHORIZED',
  /** The registry refused the request (403). */
  REGISTRY_FORBIDDEN: 'REGISTRY_FORBIDDEN',
  /** The registry server's SQLite store is open in another process. */
  REGISTRY_STORE_LOCKED: 'REGISTRY_STORE_LOCKED',
  /** Confluent 40401. */
  SUBJECT_NOT_FOUND: 'SUBJECT_NOT_FOUND',
  /** Confluent 40402. */
  VERSION_NOT_FOUND: 'VERSION_NOT_FOUND',
  /** Confluent 40403. */
  SCHEMA_NOT_FOUND: 'SCHEMA_NOT_FOUND',

  // Transports
  /** `TransportError` with no more precise code: the broker or its connection failed (retriable). */
  TRANSPORT_ERROR: 'TRANSPORT_ERROR',
  /** `TransportClosedError`: a call on a closed transport. */
  TRANSPORT_CLOSED: 'TRANSPORT_CLOSED',
  /** A call before `connect`, or while the connection is down. */
  NOT_CONNECTED: 'NOT_CONNECTED',
  /** The connection dropped under a call (retriable). */
  CONNECTION_LOST: 'CONNECTION_LOST',
  /** The broker did not answer (retriable). */
  BROKER_UNAVAILABLE: 'BROKER_UNAVAILABLE',
  /** A queue, topic or subscription that has not been provisioned. */
  NOT_PROVISIONED: 'NOT_PROVISIONED',
  /** A topology the broker cannot express. */
  INVALID_TOPOLOGY: 'INVALID_TOPOLOGY',
  /** A resource that exists with other settings than those asked for. */
  INCOMPATIBLE_TOPOLOGY: 'INCOMPATIBLE_TOPOLOGY',
  /** `MessageTooLargeError`: an envelope over the broker's size limit; the outbox relay sets it aside. */
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  /** The broker did not confirm a publish (retriable). */
  NOT_CONFIRMED: 'NOT_CONFIRMED',
  /** The broker had nowhere to route a message. */
  UNROUTABLE: 'UNROUTABLE',
  /** Part of a batch publish failed. */
  PUBLISH_FAILED: 'PUBLISH_FAILED',
  /** An ack, retry or dead-letter the broker refused. */
  SETTLEMENT_FAILED: 'SETTLEMENT_FAILED',
  /** An operation this transport does not offer. */
  NOT_SUPPORTED: 'NOT_SUPPORTED',
  /** An operation the broker does not allow. */
  NOT_ALLOWED: 'NOT_ALLOWED',
  /** The broker refused access to a resource. */
  ACCESS_REFUSED: 'ACCESS_REFUSED',
  /** The broker refused the credentials. */
  AUTHENTICATION_FAILED: 'AUTHENTICATION_FAILED',
  /** A resource another connection holds exclusively (retriable). */
  RESOURCE_LOCKED: 'RESOURCE_LOCKED',
  /** A message the broker refuses as malformed. */
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  /** A Kafka record refused before decoding (over the header limits); dead-lettered at once. */
  RECORD_REFUSED: 'RECORD_REFUSED',
  /** A consumer group that got no partitions in time (Kafka). */
  JOIN_TIMEOUT: 'JOIN_TIMEOUT',
  /**
   * A message delivered more often than its delivery limit without being settled (its consumer crashed or
   * hung each time): dead-lettered by the broker's redrive (SQS, Pub/Sub) or by our consumer (NATS
   * JetStream, Artemis), with the count in `attempts`. One code whichever broker counted.
   */
  MAX_DELIVERIES_EXCEEDED: 'MAX_DELIVERIES_EXCEEDED',
  /** Dead-lettered by the broker itself (RabbitMQ delivery limit, expiry). */
  BROKER_DEAD_LETTER: 'BROKER_DEAD_LETTER',
  /** An AWS API call refused for good. */
  AWS_REQUEST_REJECTED: 'AWS_REQUEST_REJECTED',

  // Request/reply
  /** `RemoteError`: the responder's handler failed; `remoteCode` holds what it threw. */
  REMOTE_ERROR: 'REMOTE_ERROR',
  /** `NoResponderError`: the broker said at once that nothing consumes the query's queue. */
  NO_RESPONDER: 'NO_RESPONDER',
  /** `RequestAbortedError`: the caller's signal aborted a request before its reply. */
  REQUEST_ABORTED: 'REQUEST_ABORTED',
  /** A reply address that is not one of the driver's (a foreign `omnibus-reply-to`): no reply sent. */
  INVALID_REPLY_ADDRESS: 'INVALID_REPLY_ADDRESS',
  /** A reply to an address that was closed: its caller stopped or crashed. */
  REPLY_ADDRESS_GONE: 'REPLY_ADDRESS_GONE',

  // Persistence
  /** `PersistenceUnavailableError`: the database is down or busy; the bus waits without spending the retry budget. */
  PERSISTENCE_UNAVAILABLE: 'PERSISTENCE_UNAVAILABLE',
  /** A framework statement failed for another reason (retriable). */
  PERSISTENCE_ERROR: 'PERSISTENCE_ERROR',
  /** A transaction used after it committed or rolled back. */
  TRANSACTION_CLOSED: 'TRANSACTION_CLOSED',
  /** A PostgreSQL transaction aborted by a failed statement and rolled back. */
  TRANSACTION_ABORTED: 'TRANSACTION_ABORTED',
  /** A SQLite unit of work opened where one is already open on the same async path. */
  NESTED_TRANSACTION: 'NESTED_TRANSACTION',

  // Sagas
  /** A message for a saga instance that does not exist, with `unmatched: 'deadLetter'`. */
  SAGA_NOT_FOUND: 'SAGA_NOT_FOUND',
  /** Saga state that cannot be read back. */
  SAGA_STATE_UNREADABLE: 'SAGA_STATE_UNREADABLE',
  /** A message whose saga correlation key cannot be computed. */
  SAGA_CORRELATION_FAILED: 'SAGA_CORRELATION_FAILED',
  /** A malformed saga timeout message, or one naming a timeout the saga does not have. */
  SAGA_TIMEOUT_INVALID: 'SAGA_TIMEOUT_INVALID',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
