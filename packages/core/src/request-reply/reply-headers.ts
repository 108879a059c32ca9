/** Headers of request/reply, inside `Envelope.headers` (written as they are by every binding). */
export const ReplyHeader = {
  /** On a request: the reply address of the asking bus instance. */
  replyTo: 'omnibus-reply-to',
  /** On a reply: the id of the request it answers; the caller matches replies by it. */
  inReplyTo: 'omnibus-in-reply-to',
  /** On a reply: `ok` (the body is the reply) or `error` (the body is a {@link RemoteFailure}). */
  status: 'omnibus-reply-status',
} as const;

/** The body of an `error` reply, as JSON. */
export interface RemoteFailure {
  readonly code: string;
  readonly message: string;
  readonly retriable: boolean;
  readonly stack?: string;
}

/** The type of the reply to a query type: a reply is checked against it before it reaches the caller. */
export function replyTypeOf(queryType: string): string {
  return `${queryType}.reply`;
}
