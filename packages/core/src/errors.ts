/**
 * One error tree for the whole framework. Every error has a stable string `code` (match on it, never on
 * the message), a `retriable` flag that the retry policy reads, and an optional `cause`.
 */
export interface OmnibusErrorOptions {
  readonly code?: string;
  readonly retriable?: boolean;
  readonly cause?: unknown;
}

export class OmnibusError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(message: string, options: OmnibusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code ?? 'OMNIBUS_ERROR';
    this.retriable = options.retriable ?? true;
  }
}

/** The handler or framework knows retrying cannot help: the message goes to the dead-letter queue at once. */
export class NonRetriableError extends OmnibusError {
  constructor(message: string, options: OmnibusErrorOptions = {}) {
    super(message, { code: 'NON_RETRIABLE', ...options, retriable: false });
  }
}

/** Bytes or headers that cannot be turned into a message: malformed body, unknown content type, missing header. */
export class DeserializationError extends OmnibusError {
  constructor(message: string, options: OmnibusErrorOptions = {}) {
    super(message, { code: 'DESERIALIZATION_FAILED', ...options, retriable: false });
  }
}

/** A payload that does not match its schema, an unknown schema id, an incompatible schema. */
export class SchemaError extends OmnibusError {
  constructor(message: string, options: OmnibusErrorOptions = {}) {
    super(message, { code: 'SCHEMA_ERROR', retriable: false, ...options });
  }
}

/** One reason a payload failed its contract's `validate` schema: where (`payload.address.country`) and what. */
export interface ContractIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * A payload that does not pass its contract's runtime schema (`validate`). From `publish`/`send` nothing
 * is sent; on receipt the message is dead-lettered at once, with the issues as the reason.
 */
export class ContractViolationError extends SchemaError {
  readonly issues: readonly ContractIssue[];
  constructor(message: string, issues: readonly ContractIssue[], options: OmnibusErrorOptions = {}) {
    super(message, { code: 'CONTRACT_VIOLATION', ...options, retriable: false });
    this.issues = issues;
  }
}

/** An optimistic-concurrency conflict (a saga or aggregate changed under us): retrying re-reads and wins. */
export class ConcurrencyError extends OmnibusError {
  constructor(message: string, options: OmnibusErrorOptions = {}) {
    super(message, { code: 'CONCURRENCY_CONFLICT', ...options, retriable: true });
  }
}

/** The broker or its connection failed; usually passing. */
export class TransportError extends OmnibusError {
  constructor(message: string, options: OmnibusErrorOptions = {}) {
    super(message, { code: 'TRANSPORT_ERROR', retriable: true, ...options });
  }
}

/** An operation ran past its deadline. */
export class TimeoutError extends OmnibusError {
  constructor(message: string, options: OmnibusErrorOptions = {}) {
    super(message, { code: 'TIMEOUT', ...options, retriable: true });
  }
}

/** The consumer's circuit is open: the message is retried later, after the cool-down. */
export class CircuitOpenError extends OmnibusError {
  constructor(message: string, options: OmnibusErrorOptions = {}) {
    super(message, { code: 'CIRCUIT_OPEN', ...options, retriable: true });
  }
}

/**
 * The database is down or busy, not the message. The persistence packages (SQLite, PostgreSQL) throw it
 * for their own statements (connect, BEGIN, COMMIT, claims); the bus retries the delivery without
 * spending its retry budget, so an outage pauses consumption instead of dead-lettering what arrives.
 */
export class PersistenceUnavailableError extends OmnibusError {
  constructor(message: string, options: OmnibusErrorOptions = {}) {
    super(message, { code: 'PERSISTENCE_UNAVAILABLE', ...options, retriable: true });
  }
}

/** A configuration object failed validation; `field` names the offending option. */
export class ConfigurationError extends OmnibusError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`invalid configuration: ${field}: ${message}`, { code: 'INVALID_CONFIGURATION', retriable: false });
    this.field = field;
  }
}

export function isOmnibusError(value: unknown): value is OmnibusError {
  return value instanceof OmnibusError;
}

/**
 * Turns anything thrown into an OmnibusError. Errors that are not ours keep their message and stack and
 * count as retriable (an unknown failure may be passing); values that are not errors at all (a thrown
 * string, `undefined`) are described, never lost.
 */
export function toOmnibusError(thrown: unknown): OmnibusError {
  if (thrown instanceof OmnibusError) return thrown;
  if (thrown instanceof Error) {
    const error = new OmnibusError(thrown.message, { code: 'HANDLER_ERROR', retriable: true, cause: thrown });
    if (thrown.stack !== undefined) error.stack = thrown.stack;
    return error;
  }
  return new OmnibusError(`non-error value thrown: ${describe(thrown)}`, {
    code: 'NON_ERROR_THROWN',
    retriable: true,
    cause: thrown,
  });
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return `${typeof value} ${JSON.stringify(value) ?? String(value)}`;
  } catch {
    return typeof value;
  }
}
