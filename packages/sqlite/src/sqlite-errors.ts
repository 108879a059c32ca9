import { ErrorCode, OmnibusError, PersistenceUnavailableError } from '@omnibus/core';

/** SQLite primary result codes that mean "the database is busy or unreachable right now". */
const UNAVAILABLE = new Set([
  5, // SQLITE_BUSY: another connection holds the write lock past the busy timeout
  6, // SQLITE_LOCKED
  10, // SQLITE_IOERR
  13, // SQLITE_FULL
  14, // SQLITE_CANTOPEN
]);

/** The SQLite result code of a node:sqlite error, if it is one. */
export function sqliteErrorCode(error: unknown): number | undefined {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' ? code & 0xff : undefined;
}

/**
 * Wraps a failure of the framework's own statements (BEGIN, COMMIT, claims) in an `OmnibusError`:
 * `PERSISTENCE_UNAVAILABLE` (retriable) when the database is busy or unreachable, `PERSISTENCE_ERROR`
 * otherwise (retriable too: a redelivery costs little and the cause may pass).
 */
export function persistenceError(error: unknown, doing: string): OmnibusError {
  if (error instanceof OmnibusError) return error;
  const code = sqliteErrorCode(error);
  const reason = error instanceof Error ? error.message : String(error);
  const message = `sqlite: ${doing} failed: ${reason}`;
  if (code !== undefined && UNAVAILABLE.has(code))
    return new PersistenceUnavailableError(message, { cause: error });
  return new OmnibusError(message, { code: ErrorCode.PERSISTENCE_ERROR, retriable: true, cause: error });
}
