import type { Failure } from '../transport.js';

/** How a delivery was settled: what its consumer carries out on the broker. */
export type DeliveryOutcome =
  | { readonly kind: 'ack' }
  | { readonly kind: 'retry'; readonly delayMs: number }
  | { readonly kind: 'deadLetter'; readonly failure: Failure };

/**
 * What a driver's delivery asks of the consumer it came from: carry out its one settlement. A delivery
 * calls it once, for the first settlement only (see `SettleOnce`); the promise resolves once the broker
 * has the outcome, and rejects (a `TransportError`) when it could not be carried out.
 */
export interface DeliverySettler<D> {
  settle(delivery: D, outcome: DeliveryOutcome): Promise<void>;
}
