import type { Envelope } from '../envelope.js';
import type { Transport } from '../transport.js';

/**
 * Takes every message that arrives on a reply address, garbage included, and never throws: the driver
 * acknowledges each one as it hands it over (a reply is wanted once, by one waiting caller, or not at all).
 */
export type ReplySink = (reply: Envelope) => void;

/** The reply address of one bus instance, consumed from `openReplies` until `close`. */
export interface ReplyAddress {
  /** What requests carry in `omnibus-reply-to`; opaque to the core, meaningful to the driver. */
  readonly address: string;
  /** Stops consuming and deletes the address on the broker. Idempotent. */
  close(): Promise<void>;
}

/**
 * What request/reply needs from a driver besides `Transport`, checked at run time (`supportsReplies`):
 * an address owned by this instance. The core does the rest (correlation, timeouts, remote errors,
 * counting late, unknown and malformed replies).
 *
 * - `openReplies` creates the address, starts consuming it into `sink`, and resolves once a reply
 *   published to it can no longer be lost. Where the broker can, what a crashed instance leaves behind
 *   expires on its own (exclusive or auto-delete queues, expiration policies, inactivity thresholds).
 * - `publishReply` sends one reply to an address another instance opened. It rejects with a
 *   non-retriable `TransportError` coded `INVALID_REPLY_ADDRESS` for a string that is not one of this
 *   driver's reply addresses: a header from a foreign producer must not route a reply into an
 *   application's queue.
 */
export interface ReplyTransport {
  openReplies(sink: ReplySink): Promise<ReplyAddress>;
  publishReply(address: string, reply: Envelope): Promise<void>;
}

export function supportsReplies(transport: Transport): transport is Transport & ReplyTransport {
  const candidate = transport as Partial<ReplyTransport>;
  return typeof candidate.openReplies === 'function' && typeof candidate.publishReply === 'function';
}
