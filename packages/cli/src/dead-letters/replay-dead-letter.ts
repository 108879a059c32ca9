import type { Envelope, QueueSource, SigningKeys, SubscriptionSource, Transport } from '@omnibus/core';
import type { Delivery } from '@omnibus/core/transport';
import { ConfigurationError, Header, SignatureHeader, signEnvelope } from '@omnibus/core';
import { replayedEnvelope } from '@omnibus/core/transport';

/** Where a replay sends a dead letter and what it changes. */
export interface ReplayTarget {
  /** For a subscription's dead letter: the group to address instead of the one that failed. */
  readonly group?: string;
  /** The body to send instead of the dead letter's (an edited payload, already checked). */
  readonly body?: Uint8Array;
  /** Stamped as `omnibus-replay-id`: a dead letter carrying it failed again after this run replayed it. */
  readonly replayId: string;
  /** The consuming buses' signing keys: the target group is sealed with them, an edited body signed. */
  readonly signing?: SigningKeys;
}

const KEYS_NEEDED = 'set OMNIBUS_SIGNING_KEYS (or OMNIBUS_SIGNING_KEYS_FILE) to the buses’ signing keys';

/**
 * The envelope a replay publishes: the failure headers and any earlier target seal removed; id, key and
 * every other header kept. An event is addressed to one group, sealed when `target.signing` is given (buses
 * with signing honour only a sealed address); an edited body is signed again with it. A signed dead letter
 * (a signing setup) without `target.signing` is refused with a `ConfigurationError` when the replay would
 * need a key: an unsealed address reaches every group, an edited body with the old signature is refused.
 */
export function replayEnvelope(
  envelope: Envelope,
  of: SubscriptionSource | QueueSource,
  target: ReplayTarget,
): Envelope {
  const signed = envelope.headers[SignatureHeader.signature] !== undefined;
  let edited = target.body === undefined ? envelope : { ...envelope, body: target.body };
  if (target.body !== undefined && (signed || target.signing !== undefined)) {
    if (target.signing === undefined) {
      throw new ConfigurationError(
        'OMNIBUS_SIGNING_KEYS',
        `dead letter ${envelope.id} is signed, so an edited payload must be signed again: ${KEYS_NEEDED}`,
      );
    }
    edited = signEnvelope(edited, target.signing);
  }
  const replayed = replayedEnvelope(edited, of, {
    replayId: target.replayId,
    signing: target.signing,
    ...(target.group === undefined ? {} : { group: target.group }),
  });
  if (of.kind === 'subscription' && signed && target.signing === undefined) {
    throw new ConfigurationError(
      'OMNIBUS_SIGNING_KEYS',
      `dead letter ${envelope.id} is signed: its buses honour a replay to group ${replayed.headers[Header.targetGroup]!} only when sealed, and unsealed every group of ${of.channel} would handle it again: ${KEYS_NEEDED}`,
    );
  }
  return replayed;
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
