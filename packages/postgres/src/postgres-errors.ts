import { ErrorCode, OmnibusError, PersistenceUnavailableError } from '@omnibus/core';
import { DatabaseError } from 'pg';

/** SQLSTATEs of a server that is shutting down or starting, or has no connection to spare. */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * Whether a pg error means the database is unavailable right now. A server error carries a SQLSTATE: of
 * those, connection exceptions (class 08), refused logins (class 28), shutdown/startup and too many
 * connections count. Anything else pg raises without a SQLSTATE (socket errors such as ECONNREFUSED, a
 * connection terminated under a query, a client no longer queryable) is the connection failing.
 */
function isUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseError && error.code !== undefined) {
    const state = error.code;
    return state.startsWith('08') || state.startsWith('28') || UNAVAILABLE_STATES.has(state);
  }
  return true;
}

/**
 * Wraps a failure of the framework's own statements (connect, BEGIN, COMMIT, claims) in an
 * `OmnibusError`: a `PersistenceUnavailableError` when the database is unreachable, `PERSISTENCE_ERROR`
 * otherwise; both retriable (a redelivery is cheap and the cause may pass).
 */
export function persistenceError(error: unknown, doing: string): OmnibusError {
  if (error instanceof OmnibusError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const message = `postgres: ${doing} failed: ${reason}`;
  if (isUnavailable(error)) return new PersistenceUnavailableError(message, { cause: error });
  return new OmnibusError(message, { code: ErrorCode.PERSISTENCE_ERROR, retriable: true, cause: error });
}
