import type { QueueSource, SubscriptionSource, Transport } from '@omnibus/core';
import type { Delivery } from '@omnibus/core/transport';

/** What a visit decided for one dead letter: `kept` leaves it in the queue, untouched. */
export type Visit = 'kept' | 'settled' | 'stop';

export interface SessionOptions {
  /** Dead letters examined at most (and held unsettled at once). */
  readonly limit: number;
  /** How long to wait for the first dead letter (consumer groups take a while to join). */
  readonly firstWaitMs: number;
  /** The session ends when no dead letter has arrived for this long. */
  readonly idleMs: number;
  readonly signal?: AbortSignal;
}

/**
 * Reads the dead-letter queue of `of` without consuming it: every delivery is handed to `visit`, one at a
 * time, in arrival order; what `visit` does not settle stays unsettled, and closing the consumer at the
 * end releases it back to the dead-letter queue as it was. Ends after `limit` deliveries, after `idleMs`
 * without one (`firstWaitMs` before the first, counted from when the consumer is attached), or when
 * `signal` aborts. After a `stop`, nothing more is
 * visited, but the session still ends only when deliveries stop coming, so that everything the broker
 * handed out is released by the close, not left to a lease that runs out.
 * Resolves with the number of deliveries visited; a `visit` that throws ends the session with its error.
 */
export async function deadLetterSession(
  transport: Transport,
  of: SubscriptionSource | QueueSource,
  options: SessionOptions,
  visit: (delivery: Delivery) => Promise<Visit>,
): Promise<number> {
  let visited = 0;
  let ended = false;
  let stopped = false;
  let failure: Error | undefined;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const end = (): void => {
    ended = true;
    clearTimeout(idle);
    done();
  };
  // The first wait starts once the consumer is attached: joining a group or opening a subscription's
  // stream takes longer under load, and counted in the wait it left a loaded machine no time to deliver.
  let idle: NodeJS.Timeout | undefined;
  const onAbort = (): void => end();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) end();
  // Visits run one after another (a rate, a prompt, progress lines), though the consumer hands out many
  // deliveries at once: the unsettled ones must each hold a slot, or the next could never arrive.
  let turn = Promise.resolve();

  const consumer = await transport.consume(
    { kind: 'deadLetters', of },
    (delivery) => {
      const mine = turn.then(async () => {
        if (ended || visited >= options.limit) return;
        clearTimeout(idle);
        if (stopped) {
          // Not visited, but taken into this consumer's hands, so released by its close: a client library
          // may hold what it fetched past a stop until the lease runs out (Pub/Sub: seconds, unseen).
          idle = setTimeout(end, options.idleMs);
          return;
        }
        visited++;
        try {
          const outcome = await visit(delivery);
          if (outcome === 'stop') stopped = true;
          if (visited >= options.limit) return end();
        } catch (error) {
          failure ??= error instanceof Error ? error : new Error(String(error));
          return end();
        }
        if (!ended) idle = setTimeout(end, options.idleMs);
      });
      turn = mine;
      return mine;
    },
    { concurrency: options.limit },
  );
  if (!ended && visited === 0) idle = setTimeout(end, options.firstWaitMs);
  await finished;
  options.signal?.removeEventListener('abort', onAbort);
  await consumer.close();
  if (failure !== undefined) throw failure;
  return visited;
}
