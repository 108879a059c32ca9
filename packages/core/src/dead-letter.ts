import { Header, type Envelope } from './envelope.js';
import type { Failure, Source } from './transport.js';

/** Stack traces are cut so the headers stay within every broker's limits (SQS: 256 KiB for everything). */
const MAX_STACK_CHARS = 4_000;

/**
 * The envelope to store in a dead-letter queue: the original, with the failure in `omnibus-error-*`
 * headers and the source it failed on, so the reason travels with the message and a replay knows where
 * it came from. Drivers call this; every broker stores the same headers.
 */
export function withFailureHeaders(envelope: Envelope, failure: Failure, source: Source): Envelope {
  const headers: Record<string, string> = { ...envelope.headers };
  headers[Header.errorMessage] = failure.message;
  headers[Header.errorCode] = failure.code;
  if (failure.stack !== undefined) headers[Header.errorStack] = failure.stack.slice(0, MAX_STACK_CHARS);
  headers[Header.errorAttempts] = String(failure.attempts);
  headers[Header.errorFailedAt] = failure.failedAt.toISOString();
  if (source.kind === 'subscription') {
    headers[Header.errorDestination] = `channel:${source.channel}`;
    headers[Header.errorGroup] = source.group;
  } else if (source.kind === 'queue') {
    headers[Header.errorDestination] = `queue:${source.queue}`;
  }
  return { ...envelope, headers };
}

/** The failure recorded on a dead-lettered envelope, or undefined when it has none. */
export function readFailure(envelope: Envelope): (Failure & { source?: Source }) | undefined {
  const h = envelope.headers;
  const message = h[Header.errorMessage];
  if (message === undefined) return undefined;
  const destination = h[Header.errorDestination];
  let source: Source | undefined;
  const group = h[Header.errorGroup];
  if (destination?.startsWith('channel:') && group !== undefined) {
    source = { kind: 'subscription', channel: destination.slice(8), group };
  } else if (destination?.startsWith('queue:')) {
    source = { kind: 'queue', queue: destination.slice(6) };
  }
  const stack = h[Header.errorStack];
  return {
    message,
    code: h[Header.errorCode] ?? 'UNKNOWN',
    ...(stack === undefined ? {} : { stack }),
    attempts: Number(h[Header.errorAttempts] ?? '0'),
    failedAt: new Date(h[Header.errorFailedAt] ?? 0),
    ...(source === undefined ? {} : { source }),
  };
}

/** The envelope to publish when replaying a dead letter: the failure headers removed. */
export function withoutFailureHeaders(envelope: Envelope): Envelope {
  const headers: Record<string, string> = {};
  for (const name in envelope.headers) {
    if (!name.startsWith('omnibus-error-')) headers[name] = envelope.headers[name]!;
  }
  return { ...envelope, headers };
}
