import { Header } from './envelope.js';
import { readFailure, withoutFailureHeaders } from './dead-letter.js';
import { SignatureHeader, sealTarget } from './signing/envelope-signature.js';
import { signingKeys, type SigningKeys, type SigningOptions } from './signing/signing-options.js';
import type { Envelope } from './envelope.js';
import type { Delivery, Destination, QueueSource, SubscriptionSource, Transport } from './transport.js';
import { uuidv7 } from './uuid.js';

export interface ReplayOptions {
  /** Stop after this many dead letters. Default: all. */
  readonly limit?: number;
  /** Stop when no dead letter has arrived for this long. Default 1 s. */
  readonly idleMs?: number;
  /**
   * The keys of the consuming buses' `signing`. A replayed event is sealed with them, so that only its
   * failed group handles it and the others ack it; without them (or on a bus without signing) every
   * group handles it again. Signatures are not touched: a replayed message verifies as it did.
   */
  readonly signing?: SigningOptions;
}

/** What {@link replayedEnvelope} stamps on a replay. */
export interface ReplayStamp {
  /** This run's id, as `omnibus-replay-id`. */
  readonly replayId: string;
  /** The group an event is addressed to. Default: the group that failed it (else `of`'s). */
  readonly group?: string;
  /** The consuming buses' keys: an event's address is sealed with them. */
  readonly signing?: SigningKeys | undefined;
}

/**
 * The envelope a replay of the dead letter `dead` (read from `of`) publishes: the failure headers and an
 * earlier run's target seal removed (it no longer fits), `omnibus-replay-id` stamped; id, key, body and
 * every other header kept. An event is addressed (`omnibus-target-group`) to `stamp.group`, else to the
 * group that failed it, and sealed when `stamp.signing` is given.
 */
export function replayedEnvelope(
  dead: Envelope,
  of: SubscriptionSource | QueueSource,
  stamp: ReplayStamp,
): Envelope {
  const clean = withoutFailureHeaders(dead);
  const headers: Record<string, string> = { ...clean.headers, [Header.replayId]: stamp.replayId };
  delete headers[SignatureHeader.targetSeal];
  if (of.kind === 'subscription') {
    const failed = readFailure(dead)?.source;
    const group = stamp.group ?? (failed?.kind === 'subscription' ? failed.group : of.group);
    headers[Header.targetGroup] = group;
    if (stamp.signing !== undefined)
      Object.assign(headers, sealTarget(clean, group, stamp.replayId, stamp.signing));
  }
  return { ...clean, headers };
}

/**
 * Moves dead letters of `of` back to where they failed: a command back to its queue; an event back to its
 * channel, addressed (`omnibus-target-group`) to the failed group. Buses honour that address only when it
 * is sealed with their signing keys (`options.signing`): then other groups, which handled it already,
 * ack it unhandled; else every group handles it again (an inbox makes that a no-op: the id is kept).
 * The failure headers are removed; id, key and every other header are kept. Each dead
 * letter is acked only after its replay is published, so an interrupted replay loses nothing. Returns the
 * number replayed.
 *
 * A replay is bounded and always ends: every message it moves back carries this run's id
 * (`omnibus-replay-id`), and the run stops at the first dead letter carrying it, i.e. one that failed again
 * after this run replayed it (left in the dead-letter queue, unsettled). So while the bus runs and the
 * message keeps failing, each dead letter is replayed at most once per call. `limit` is counted when a dead
 * letter is taken, before it is handed out, so no more than `limit` are ever replayed; past it, deliveries
 * are left unsettled and closing the consumer releases them, still dead.
 */
export async function replayDeadLetters(
  transport: Transport,
  of: SubscriptionSource | QueueSource,
  options: ReplayOptions = {},
): Promise<number> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const idleMs = options.idleMs ?? 1_000;
  const signing = options.signing === undefined ? undefined : signingKeys(options.signing);
  const replayId = uuidv7();
  let taken = 0;
  let replayed = 0;
  let ended = false;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const end = (): void => {
    ended = true;
    clearTimeout(idleTimer);
    done();
  };
  let idleTimer = setTimeout(end, idleMs);

  const replayOne = async (delivery: Delivery): Promise<void> => {
    const envelope = replayedEnvelope(delivery.envelope, of, { replayId, signing });
    const destination: Destination =
      of.kind === 'queue' ? { kind: 'queue', queue: of.queue } : { kind: 'channel', channel: of.channel };
    await transport.publish(destination, [envelope]);
    await delivery.ack();
    replayed++;
  };

  const consumer = await transport.consume(
    { kind: 'deadLetters', of },
    async (delivery) => {
      // Left unsettled (closing the consumer releases them): deliveries after the end, past the limit,
      // and the dead letter this run already replayed once.
      if (ended || taken >= limit || delivery.envelope.headers[Header.replayId] === replayId) return end();
      taken++;
      clearTimeout(idleTimer);
      await replayOne(delivery);
      if (taken >= limit) end();
      else if (!ended) idleTimer = setTimeout(end, idleMs);
    },
    { concurrency: 1 },
  );
  await finished;
  await consumer.close();
  return replayed;
}
