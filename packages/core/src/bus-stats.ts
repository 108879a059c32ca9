/** Counters of what the bus has done since it was created. */
export interface BusStats {
  received: number;
  handled: number;
  /** Failed handlings tried again: handed back for redelivery, or run again after a conflict. */
  retried: number;
  deadLettered: number;
  /**
   * Messages of a type no handler of their consumer handles: on a subscription acked, on a command
   * queue dead-lettered (`UNKNOWN_MESSAGE_TYPE`, counted in `deadLettered` too).
   */
  unknownType: number;
  /** Deliveries the inbox recognised as already handled. */
  duplicates: number;
  /** Replayed dead letters addressed to another group: acked without handling. */
  notForThisGroup: number;
  /** Of `retried`, the handlings run again after losing an optimistic-concurrency update (no try spent). */
  conflicts: number;
  /** Request/reply: replies that came after their request timed out or was aborted (dropped). */
  lateReplies: number;
  /** Request/reply: replies to no request of this instance, e.g. a forged request id (dropped). */
  unknownReplies: number;
  /** Request/reply: messages on the reply address that are not replies (dropped). */
  malformedReplies: number;
  /** Request/reply: requests that got no reply in time (`TimeoutError`). */
  timedOutRequests: number;
  /** Request/reply, answering side: queries whose handling failed, answered with a remote error. */
  failedQueries: number;
  /** Request/reply, answering side: replies that could not be sent (logged; the caller times out). */
  undeliveredReplies: number;
}

export function emptyStats(): BusStats {
  return {
    received: 0,
    handled: 0,
    retried: 0,
    deadLettered: 0,
    unknownType: 0,
    duplicates: 0,
    notForThisGroup: 0,
    conflicts: 0,
    lateReplies: 0,
    unknownReplies: 0,
    malformedReplies: 0,
    timedOutRequests: 0,
    failedQueries: 0,
    undeliveredReplies: 0,
  };
}
