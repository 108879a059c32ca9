import type { Envelope, QueueSource, SubscriptionSource } from '@omnibus/core';
import { Header } from '@omnibus/core';
import { withFailureHeaders } from '@omnibus/core/transport';

/** Attribute Pub/Sub adds to a message its dead-letter policy forwards (emulators may not add it). */
export const DEAD_LETTER_DELIVERY_COUNT = 'CloudPubSubDeadLetterSourceDeliveryCount';

/** The failure code of a message the server dead-lettered after too many unsettled deliveries. */
export const MAX_DELIVERIES_EXCEEDED = 'MAX_DELIVERIES_EXCEEDED';

/**
 * A dead letter read from a dead-letter subscription. Ours carry their reason in `omnibus-error-*`
 * headers; one that the server's dead-letter policy forwarded (a consumer kept failing to settle it) has
 * none, so the reason is added here: `MAX_DELIVERIES_EXCEEDED`, with the delivery count the server
 * reports and the source it came from, so it reads and replays like any other dead letter.
 */
export function withServerDeadLetterReason(
  envelope: Envelope,
  attributes: Readonly<Record<string, string>>,
  of: SubscriptionSource | QueueSource,
  receivedAt: Date,
): Envelope {
  if (envelope.headers[Header.errorMessage] !== undefined) return envelope;
  const count = Number(attributes[DEAD_LETTER_DELIVERY_COUNT]);
  const attempts = Number.isInteger(count) && count > 0 ? count : 0;
  return withFailureHeaders(
    envelope,
    {
      message: `delivered ${attempts > 0 ? `${attempts} times` : 'too often'} without being settled: moved by the subscription's dead-letter policy`,
      code: MAX_DELIVERIES_EXCEEDED,
      attempts,
      failedAt: receivedAt,
    },
    of,
  );
}
