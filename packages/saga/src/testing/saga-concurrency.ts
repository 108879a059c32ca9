import { expect } from 'chai';
import type { SagaStore } from '@omnibus/core';
import { waitFor } from '@omnibus/core/testing';
import type { SagaWorker, SagaWorkerReport } from './saga-worker.js';
import type { TallyItemV1, TallyState } from './tally-saga.js';
import { shuffledItems } from './tally-saga.js';

export interface SagaConcurrencyOptions {
  /** Names the tally saga; the workers must use the same. */
  readonly prefix: string;
  /** Starts the workers sharing one database (processes or buses); all consume before this resolves. */
  readonly startWorkers: () => Promise<SagaWorker[]>;
  /** Publishes one item as a `TallyItem` event onto the broker the workers consume. */
  readonly publish: (item: TallyItemV1) => Promise<void>;
  /** Reads the shared database. */
  readonly store: SagaStore;
  /** Default 1,000. */
  readonly instances?: number;
  /** Items per instance. Default 5. */
  readonly parts?: number;
  /** Default 180 s. */
  readonly timeoutMs?: number;
}

/**
 * `instances` tally sagas, each sent its `parts` items in one random order over all instances, published
 * as fast as the broker takes them, handled by several workers over one database: every instance must
 * end completed with every part seen exactly once (no lost update, no step run twice), and nothing
 * dead-lettered. Returns the workers' reports.
 */
export async function runSagaConcurrency(options: SagaConcurrencyOptions): Promise<SagaWorkerReport[]> {
  const instances = options.instances ?? 1_000;
  const parts = options.parts ?? 5;
  const saga = `${options.prefix}-tally`;
  const workers = await options.startWorkers();
  let reports: SagaWorkerReport[] | undefined;
  try {
    const items = shuffledItems(instances, parts, 7);
    for (let start = 0; start < items.length; start += 200) {
      await Promise.all(items.slice(start, start + 200).map((item) => options.publish(item)));
    }
    await waitFor(
      async () =>
        (await options.store.list(saga, { status: 'completed', limit: instances + 1 })).length === instances,
      { timeoutMs: options.timeoutMs ?? 180_000, intervalMs: 200, message: `${instances} sagas completed` },
    );
    reports = await Promise.all(workers.map((worker) => worker.stop()));
  } finally {
    if (reports === undefined) await Promise.allSettled(workers.map((worker) => worker.stop()));
  }
  const records = await options.store.list(saga, { limit: instances + 1 });
  expect(records).to.have.length(instances);
  for (const record of records) {
    const state = (JSON.parse(record.data) as { state: TallyState }).state;
    expect(record.status, record.key).to.equal('completed');
    expect(
      [...state.seen].sort((a, b) => a - b),
      record.key,
    ).to.deep.equal(Array.from({ length: parts }, (_, i) => i));
    expect(state.steps, `${record.key}: steps run`).to.equal(parts);
    expect(record.version, `${record.key}: versions`).to.equal(parts);
  }
  expect(reports.map((r) => r.deadLettered)).to.deep.equal(reports.map(() => 0));
  for (const report of reports) expect(report.steps, 'every worker took part').to.be.greaterThan(0);
  return reports;
}
