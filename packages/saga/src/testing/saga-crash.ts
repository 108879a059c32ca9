import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { expect } from 'chai';
import type { Envelope, SagaStore } from '@omnibus/core';
import { waitFor } from '@omnibus/core/testing';
import type { SagaWorker } from './saga-worker.js';
import type { TallyItemV1, TallyState } from './tally-saga.js';
import { shuffledItems } from './tally-saga.js';

export interface SagaCrashOptions {
  /** Names the tally saga; the workers must use the same. */
  readonly prefix: string;
  /** Forks one worker process over the shared database and broker; resolves once it consumes. */
  readonly forkWorker: () => Promise<SagaWorker & { readonly child: ChildProcess }>;
  /** Publishes one item as a `TallyItem` event onto the broker the workers consume. */
  readonly publish: (item: TallyItemV1) => Promise<void>;
  /** Reads the shared database. */
  readonly store: SagaStore;
  /** Every `TallyDone` envelope seen downstream (see `collectChannel`): each instance's must arrive. */
  readonly done: readonly Envelope[];
  /** Default 1,000. */
  readonly instances?: number;
  /** Items per instance. Default 5. */
  readonly parts?: number;
  /** The worker is killed once this many instances have completed. Default a tenth of `instances`. */
  readonly killAfter?: number;
  /** Default 180 s. */
  readonly timeoutMs?: number;
}

/** What happened around the kill, for the test's log. */
export interface SagaCrashReport {
  /** Instances completed when the first worker was killed. */
  readonly completedAtKill: number;
  /** Instances with at least one committed step when it was killed. */
  readonly startedAtKill: number;
}

/**
 * A worker process is SIGKILLed in the middle of the tally sagas' steps (transactions open, deliveries
 * unacked, outbox rows not yet relayed), and a new one takes over the same database and queue. Every
 * instance must end completed with each part seen by exactly one committed step (a step that committed
 * before the kill is not run again: its inbox record came with its state), and every instance's
 * `TallyDone` must reach the broker (its outbox row survived the kill; one the killed worker's relay had
 * claimed is published by the new worker's once that lease expires).
 */
export async function runSagaCrash(options: SagaCrashOptions): Promise<SagaCrashReport> {
  const instances = options.instances ?? 1_000;
  const parts = options.parts ?? 5;
  const killAfter = options.killAfter ?? Math.ceil(instances / 10);
  const timeoutMs = options.timeoutMs ?? 180_000;
  const saga = `${options.prefix}-tally`;
  const completed = async (): Promise<number> =>
    (await options.store.list(saga, { status: 'completed', limit: instances + 1 })).length;

  const first = await options.forkWorker();
  let second: SagaWorker | undefined;
  try {
    const items = shuffledItems(instances, parts, 11);
    const publishing = (async () => {
      for (let start = 0; start < items.length; start += 200) {
        await Promise.all(items.slice(start, start + 200).map((item) => options.publish(item)));
      }
    })();
    publishing.catch(() => undefined); // awaited below; not an unhandled rejection should the wait fail first
    await waitFor(async () => (await completed()) >= killAfter, {
      timeoutMs,
      intervalMs: 10,
      message: `${killAfter} sagas completed before the kill`,
    });
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    const completedAtKill = await completed();
    const startedAtKill = (await options.store.list(saga, { limit: instances + 1 })).length;
    expect(completedAtKill, 'the kill came in the middle of the steps').to.be.lessThan(instances);
    await publishing;
    second = await options.forkWorker();
    await waitFor(async () => (await completed()) === instances, {
      timeoutMs,
      intervalMs: 200,
      message: `${instances} sagas completed after the restart`,
    });
    // The killed worker's relay may have held outbox rows it had claimed but not yet published: they
    // come back when its lease expires, and only a running relay can then publish them. So the new
    // worker keeps running until every TallyDone has arrived (stopping it first stalled the test).
    const tallies = (): Set<string> =>
      new Set(
        options.done.map(
          (envelope) => (JSON.parse(new TextDecoder().decode(envelope.body)) as { tally: string }).tally,
        ),
      );
    await waitFor(() => tallies().size === instances, {
      timeoutMs,
      message: `a TallyDone for each of the ${instances} instances`,
    });
    const report = await second.stop();
    second = undefined;
    expect(report.deadLettered, 'dead letters after the restart').to.equal(0);

    const records = await options.store.list(saga, { limit: instances + 1 });
    expect(records).to.have.length(instances);
    for (const record of records) {
      const state = (JSON.parse(record.data) as { state: TallyState }).state;
      expect(record.status, record.key).to.equal('completed');
      expect(
        [...state.seen].sort((a, b) => a - b),
        record.key,
      ).to.deep.equal(Array.from({ length: parts }, (_, i) => i));
      expect(state.steps, `${record.key}: steps committed`).to.equal(parts);
      expect(record.version, `${record.key}: versions`).to.equal(parts);
    }
    return { completedAtKill, startedAtKill };
  } finally {
    if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL');
    if (second !== undefined) await second.stop().catch(() => undefined);
  }
}
