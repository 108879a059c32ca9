import type { Envelope, QueueSource, SubscriptionSource, Transport } from '@omnibus/core';
import type { Delivery } from '@omnibus/core/transport';
import { Header, readFailure } from '@omnibus/core';

/** Where a replay sends a dead letter and what it changes. */
export interface ReplayTarget {
  /** For a subscription's dead letter: the group to address instead of the one that failed. */
  readonly group?: string;
  /** The body to send instead of the dead letter's (an edited payload, already checked). */
  readonly body?: Uint8Array;
  /** Stamped as `omnibus-replay-id`: a dead letter carrying it failed again after this run replayed it. */
  readonly replayId: string;
}

/** The envelope a replay publishes: the failure headers removed, id, key and every other header kept. */
export function replayEnvelope(
  envelope: Envelope,
  of: SubscriptionSource | QueueSource,
  target: ReplayTarget,
): Envelope {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(envelope.headers)) {
    if (!name.startsWith('omnibus-error-')) headers[name] = value;
  }
  headers[Header.replayId] = target.replayId;
  if (of.kind === 'subscription') {
    const failed = readFailure(envelope)?.source;
    headers[Header.targetGroup] = target.group ?? (failed?.kind === 'subscription' ? failed.group : of.group);
  }
  return { ...envelope, headers, ...(target.body === undefined ? {} : { body: target.body }) };
}

/**
 * Sends one dead letter back (a command to its queue, an event to its channel addressed to one group) and
 * only then acks it: `publish` resolves once the broker has the message durably, so a crash between the
 * two leaves the dead letter in place (replayed twice at worst, never lost).
 */
export async function replayDeadLetter(
  transport: Transport,
  of: SubscriptionSource | QueueSource,
  delivery: Delivery,
  target: ReplayTarget,
): Promise<void> {
  const envelope = replayEnvelope(delivery.envelope, of, target);
  await transport.publish(
    of.kind === 'queue' ? { kind: 'queue', queue: of.queue } : { kind: 'channel', channel: of.channel },
    [envelope],
  );
  await delivery.ack();
}
