import type { OmnibusErrorOptions } from '../errors.js';
import { OmnibusError } from '../errors.js';

/**
 * The responder's handler failed: `remoteCode` and `message` are what it threw (an `OmnibusError`'s
 * code, else `HANDLER_ERROR`); `remoteStack` only when the responder's bus sets `replies.includeStack`.
 * Match on `remoteCode`, never on the message.
 */
export class RemoteError extends OmnibusError {
  readonly remoteCode: string;
  readonly remoteStack: string | undefined;
  /** The responding service (its `source`). */
  readonly service: string | undefined;
  constructor(
    message: string,
    remote: {
      readonly code: string;
      readonly stack?: string;
      readonly service?: string;
      readonly retriable: boolean;
    },
  ) {
    super(message, { code: 'REMOTE_ERROR', retriable: remote.retriable });
    this.remoteCode = remote.code;
    this.remoteStack = remote.stack;
    this.service = remote.service;
  }
}

/** The broker said at once that nothing consumes the query's queue (not provisioned, unroutable). */
export class NoResponderError extends OmnibusError {
  constructor(message: string, options: OmnibusErrorOptions = {}) {
    super(message, { code: 'NO_RESPONDER', ...options, retriable: true });
  }
}

/** The caller's `signal` aborted the request before its reply came; `cause` is the signal's reason. */
export class RequestAbortedError extends OmnibusError {
  constructor(message: string, options: OmnibusErrorOptions = {}) {
    super(message, { code: 'REQUEST_ABORTED', ...options, retriable: false });
  }
}
