/**
 * First settlement wins: the one claim a delivery's `ack`, `retry`, `deadLetter` (or its release when
 * the consumer closes) must take before acting, so a second settlement never reaches the broker (a
 * double ack would close a RabbitMQ channel). A settlement that could not be carried out may hand its
 * claim back with `reopen`, leaving the delivery to be settled again or released.
 */
export class SettleOnce {
  #claimed = false;

  /** Whether a settlement (or a release) holds the claim. */
  get claimed(): boolean {
    return this.#claimed;
  }

  /** Takes the claim; false when something took it first. */
  claim(): boolean {
    if (this.#claimed) return false;
    this.#claimed = true;
    return true;
  }

  /** Gives the claim back after a settlement failed, so the delivery counts as unsettled again. */
  reopen(): void {
    this.#claimed = false;
  }
}
