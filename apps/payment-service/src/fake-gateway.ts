import { OmnibusError } from '@omnibus/core';

/** What the fake gateway does with a charge, decided by the customer id so that runs are repeatable. */
export type GatewayBehaviour = 'charge' | 'decline' | 'flaky' | 'late';

/**
 * The fake card gateway's rules: a customer id containing `decline` is declined; `flaky` fails
 * transiently on the first attempt (the bus retries it); `late` is charged but answered only after
 * `lateMs`, past the saga's payment timeout; anyone else is charged at once.
 */
export function behaviourOf(customerId: string): GatewayBehaviour {
  if (customerId.includes('decline')) return 'decline';
  if (customerId.includes('flaky')) return 'flaky';
  if (customerId.includes('late')) return 'late';
  return 'charge';
}

/** The gateway did not answer this time; retrying may succeed. */
export class GatewayUnavailableError extends OmnibusError {
  constructor(paymentId: string) {
    super(`gateway unavailable for payment ${paymentId} (transient)`, {
      code: 'GATEWAY_UNAVAILABLE',
      retriable: true,
    });
  }
}
