import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import type { Persistence, SagaStore, Transport } from '@omnibus/core';
import { Bus } from '@omnibus/core';
import { SagaRuntime } from '../saga-runtime.js';
import { tallyContracts } from './tally-saga.js';

/** What a worker did, reported when it stops. */
export interface SagaWorkerReport {
  readonly steps: number;
  readonly deadLettered: number;
  readonly retried: number;
}

/** A bus running the tally saga: in this process, or a child's (see {@link serveSagaWorker}). */
export interface SagaWorker {
  stop(): Promise<SagaWorkerReport>;
}

export interface SagaWorkerOptions {
  /** Names the tally saga and its contracts (see `tallyContracts`). */
  readonly prefix: string;
  readonly transport: Transport;
  readonly persistence: Persistence;
  readonly store: SagaStore;
  /** Deliveries handled at once. Default 16. */
  readonly concurrency?: number;
}

/** Starts a bus that runs the tally saga; resolves once it consumes. */
export async function startSagaWorker(options: SagaWorkerOptions): Promise<SagaWorker> {
  const { Tally } = tallyContracts(options.prefix);
  const runtime = new SagaRuntime({ store: options.store, sagas: [Tally] });
  const bus = new Bus({
    transport: options.transport,
    serviceName: `${options.prefix}-worker`,
    persistence: options.persistence,
    handlers: runtime.handlers,
    concurrency: options.concurrency ?? 16,
    // A killed worker's claimed outbox rows wait out its lease (default 30 s) before another relay takes
    // them: a short lease keeps the crash test short; a republish it may cause is absorbed downstream.
    outboxRelay: { pollIntervalMs: 20, leaseMs: 3_000 },
  });
  await bus.start();
  return {
    stop: async () => {
      await bus.stop();
      return { steps: runtime.stats.steps, deadLettered: bus.stats.deadLettered, retried: bus.stats.retried };
    },
  };
}

/**
 * The child's side: `startSagaWorker`, then "ready" to the parent; on "stop", stops, sends its report,
 * runs `close` (the persistence) and exits. Call it from a worker module that opens its own transport and
 * store; the parent forks it with {@link forkSagaWorker}.
 */
export async function serveSagaWorker(options: SagaWorkerOptions, close: () => Promise<void>): Promise<void> {
  const worker = await startSagaWorker(options);
  process.on('message', (message: unknown) => {
    if (message !== 'stop') return;
    void worker.stop().then(async (report) => {
      await close();
      process.send!({ kind: 'report', report }, () => process.disconnect());
    });
  });
  process.send!({ kind: 'ready' });
}

/** A forked worker module (see {@link serveSagaWorker}), resolved once it consumes. */
export async function forkSagaWorker(
  module: string,
  args: readonly string[],
): Promise<SagaWorker & { readonly child: ChildProcess }> {
  const child = fork(module, [...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [ready] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`saga worker exited (${String(code)}) before it was ready`);
    }),
  ])) as [{ kind: string }];
  if (ready.kind !== 'ready') throw new Error(`saga worker said ${JSON.stringify(ready)} instead of ready`);
  return {
    child,
    stop: async () => {
      const reported = once(child, 'message') as Promise<[{ kind: string; report: SagaWorkerReport }]>;
      child.send('stop');
      const [message] = await reported;
      if (child.exitCode === null) await once(child, 'exit');
      return message.report;
    },
  };
}
