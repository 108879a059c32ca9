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
  };
}
