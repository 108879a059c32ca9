import { Header } from './envelope.js';
import { readFailure, withoutFailureHeaders } from './dead-letter.js';
import type { QueueSource, SubscriptionSource, Transport } from './transport.js';

export interface ReplayOptions {
  /** Stop after this many dead letters. Default: all. */
  readonly limit?: number;
  /** Stop when no dead letter has arrived for this long. Default 1 s. */
  readonly idleMs?: number;
}

/**
 * Moves dead letters of `of` back to where they failed: a command back to its queue; an event back to its
 * channel, addressed (`omnibus-target-group`) to the failed group alone, so other groups, which handled it
 * already, ignore it. The failure headers are removed; id, key and every other header are kept. Each dead
 * letter is acked only after its replay is published, so an interrupted replay loses nothing. Returns the
 * number replayed.
 */
export async function replayDeadLetters(
  transport: Transport,
  of: SubscriptionSource | QueueSource,
  options: ReplayOptions = {},
): Promise<number> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const idleMs = options.idleMs ?? 1_000;
  let replayed = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  let idleTimer = setTimeout(done, idleMs);

  const consumer = await transport.consume(
    { kind: 'deadLetters', of },
    async (delivery) => {
      clearTimeout(idleTimer);
      // Past the limit, a delivery is left unsettled: closing the consumer releases it, still dead.
      if (replayed >= limit) return done();
      const clean = withoutFailureHeaders(delivery.envelope);
      if (of.kind === 'queue') {
        await transport.publish({ kind: 'queue', queue: of.queue }, [clean]);
      } else {
        const failed = readFailure(delivery.envelope)?.source;
        const group = failed?.kind === 'subscription' ? failed.group : of.group;
        const targeted = { ...clean, headers: { ...clean.headers, [Header.targetGroup]: group } };
        await transport.publish({ kind: 'channel', channel: of.channel }, [targeted]);
      }
      await delivery.ack();
      replayed++;
      if (replayed >= limit) done();
      else idleTimer = setTimeout(done, idleMs);
    },
    { concurrency: 1 },
  );
  await finished;
  clearTimeout(idleTimer);
  await consumer.close();
  return replayed;
}
