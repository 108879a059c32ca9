import { defineEvent, exponential } from '@omnibus/core';
import type { SagaContext } from '../index.js';
import { Saga, StartedBy } from '../index.js';

/**
 * A saga for the concurrency tests: each instance expects `parts` items, which may come in any order
 * and all at once (each may start it); it completes when it has seen every one. A lost update shows as
 * a missing part, a duplicate step as a count above `parts`.
 */
export interface TallyItemV1 {
  readonly tally: string;
  readonly part: number;
  readonly parts: number;
}
export interface TallyState {
  seen: number[];
  steps: number;
}

/** The tally saga and its contracts, named after `prefix` so tests never share queues. */
export function tallyContracts(prefix: string) {
  const TallyItem = defineEvent<TallyItemV1>({
    type: `${prefix}.TallyItem`,
    channel: `${prefix}-items`,
  });
  const TallyDone = defineEvent<{ tally: string; seen: number[] }>({
    type: `${prefix}.TallyDone`,
    channel: `${prefix}-done`,
  });
  @Saga<TallyState>({ name: `${prefix}-tally`, initial: () => ({ seen: [], steps: 0 }) })
  class Tally {
    @StartedBy(TallyItem, {
      correlate: (i) => i.tally,
      // A lost version race runs the step again with fresh state without spending a try: few tries do.
      retry: { attempts: 5, backoff: exponential({ initialMs: 2, maxMs: 100 }) },
    })
    async item(item: TallyItemV1, saga: SagaContext<TallyState>) {
      saga.state.steps++;
      if (!saga.state.seen.includes(item.part)) saga.state.seen.push(item.part);
      if (saga.state.seen.length === item.parts) {
        await saga.publish(TallyDone, { tally: saga.key, seen: [...saga.state.seen].sort((a, b) => a - b) });
        saga.complete();
      }
    }
  }
  return { TallyItem, TallyDone, Tally };
}

/** Every item of `tallies` instances of `parts` parts each, shuffled (Fisher–Yates, seeded). */
export function shuffledItems(tallies: number, parts: number, seed = 42): TallyItemV1[] {
  const items: TallyItemV1[] = [];
  for (let t = 0; t < tallies; t++)
    for (let p = 0; p < parts; p++) items.push({ tally: `t${t}`, part: p, parts });
  let state = seed;
  const random = (): number => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
