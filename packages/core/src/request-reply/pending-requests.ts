import type { Envelope } from '../envelope.js';
import { TimeoutError } from '../errors.js';
import { ReplyHeader } from './reply-headers.js';

/** How many timed-out request ids are remembered, to count their replies as late rather than unknown. */
const REMEMBERED_EXPIRED = 10_000;

/** What happens to what arrives on a reply address, counted (see `BusStats`). */
export interface ReplyCounters {
  /** Replies that came after their request had timed out or was aborted: dropped. */
  lateReplies: number;
  /** Replies to no request this instance made (forged, or misrouted): dropped. */
  unknownReplies: number;
  /** Messages on the reply address that are not replies (no request id, wrong type): dropped. */
  malformedReplies: number;
  /** Requests that got no reply in time. */
  timedOutRequests: number;
}

interface Pending {
  readonly replyType: string;
  readonly resolve: (reply: Envelope) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

/**
 * The correlation table of one bus: each request waiting for its reply, by request id. A reply reaches
 * the one caller whose request id it carries and whose reply type it has; anything else is dropped and
 * counted. A request is removed when its reply comes, its timeout passes or its signal aborts, so it
 * settles exactly once.
 */
export class PendingRequests {
  readonly #pending = new Map<string, Pending>();
  readonly #expired = new Set<string>();
  readonly #counters: ReplyCounters;

  constructor(counters: ReplyCounters) {
    this.#counters = counters;
  }

  get size(): number {
    return this.#pending.size;
  }

  /**
   * Waits for the reply to request `id`. Rejects with `TimeoutError` after `timeoutMs`, or with what
   * `aborted` makes of the signal's reason.
   */
  wait(
    id: string,
    replyType: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    aborted: (reason: unknown) => Error,
  ): Promise<Envelope> {
    return new Promise<Envelope>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#forget(id) === undefined) return;
        this.#counters.timedOutRequests++;
        reject(
          new TimeoutError(`no reply to ${replyType.replace(/\.reply$/, '')} ${id} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const onAbort =
        signal === undefined
          ? undefined
          : () => {
              if (this.#forget(id) !== undefined) reject(aborted(signal.reason));
            };
      signal?.addEventListener('abort', onAbort!, { once: true });
      this.#pending.set(id, { replyType, resolve, reject, timer, signal, onAbort });
    });
  }

  /** One message from the reply address: handed to its caller, or dropped and counted. Never throws. */
  deliver(reply: Envelope): void {
    const id = reply.headers?.[ReplyHeader.inReplyTo];
    if (typeof id !== 'string' || id === '') {
      this.#counters.malformedReplies++;
      return;
    }
    const pending = this.#pending.get(id);
    if (pending === undefined) {
      if (this.#expired.has(id)) this.#counters.lateReplies++;
      else this.#counters.unknownReplies++;
      return;
    }
    if (reply.type !== pending.replyType) {
      // A message claiming a waiting request's id with the wrong type is not its reply; the caller waits on.
      this.#counters.malformedReplies++;
      return;
    }
    this.#forget(id, false);
    pending.resolve(reply);
  }

  /** Forgets a request that was never sent: its promise is left unsettled, its timer cleared. */
  cancel(id: string): void {
    this.#forget(id, false);
  }

  /** Rejects every waiting request with `error` (the bus is stopping). */
  rejectAll(error: Error): void {
    for (const id of [...this.#pending.keys()]) this.#forget(id)?.reject(error);
  }

  /** Removes a waiting request; `expired` remembers its id so a reply that still comes counts as late. */
  #forget(id: string, expired = true): Pending | undefined {
    const pending = this.#pending.get(id);
    if (pending === undefined) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort);
    if (expired) {
      if (this.#expired.size >= REMEMBERED_EXPIRED)
        this.#expired.delete(this.#expired.values().next().value!);
      this.#expired.add(id);
    }
    return pending;
  }
}
