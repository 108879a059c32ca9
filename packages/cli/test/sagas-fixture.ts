import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SagaRecord, SagaStore, UnitOfWork } from '@omnibus/core';

const bin = fileURLToPath(new URL('../../bin/omnibus.js', import.meta.url));

/** Runs the built `omnibus` binary in a process of its own. */
export function omnibusProcess(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() });
      },
    );
  });
}

/** The steps of instance o-1 (o-2 and o-3 were written before sagas kept a history). */
export const HISTORY = [
  {
    type: 'orders.OrderPlaced',
    messageId: 'm-1',
    at: '2026-01-01T12:00:00.000Z',
    version: 1,
    action: 'started',
  },
  {
    type: 'inventory.StockReserved',
    messageId: 'm-2',
    at: '2026-01-01T12:01:00.000Z',
    version: 2,
    action: 'handled',
  },
];

/**
 * Three instances of saga `orders` as the saga runtime writes them: a running one waiting for a
 * timeout, a completed one, a newer running one; and one row whose data is not a saga document.
 */
export async function seedSagas<Tx>(store: SagaStore<Tx>, unitOfWork: UnitOfWork<Tx>): Promise<void> {
  const at = (minutes: number): Date => new Date(Date.UTC(2026, 0, 1, 12, minutes));
  const doc = (
    state: unknown,
    timeouts: unknown[] = [],
    compensations: unknown[] = [],
    history?: unknown[],
  ): string =>
    JSON.stringify({ state, timeouts, compensations, compensated: false, ...(history && { history }) });
  const records: SagaRecord[] = [
    {
      saga: 'orders',
      key: 'o-1',
      version: 2,
      status: 'running',
      data: doc(
        { status: 'paying', since: { $date: '2026-01-01T12:01:00.000Z' } },
        [{ name: 'payment', token: 't1', dueAt: '2026-01-01T12:30:00.000Z' }],
        [{ type: 'inventory.ReleaseStock', payload: { orderId: 'o-1' } }],
        HISTORY,
      ),
      createdAt: at(0),
      updatedAt: at(1),
    },
    {
      saga: 'orders',
      key: 'o-2',
      version: 3,
      status: 'completed',
      data: doc({ status: 'confirmed' }),
      createdAt: at(0),
      updatedAt: at(2),
      completedAt: at(2),
    },
    {
      saga: 'orders',
      key: 'o-3',
      version: 1,
      status: 'running',
      data: doc({ status: 'reserving' }),
      createdAt: at(3),
      updatedAt: at(3),
    },
    {
      saga: 'orders',
      key: 'broken',
      version: 1,
      status: 'running',
      data: '{"state": trunc',
      createdAt: at(0),
      updatedAt: at(0),
    },
  ];
  for (const record of records) {
    await unitOfWork.transaction((tx) => store.save(tx, { ...record, version: 1 }, 0));
    for (let version = 2; version <= record.version; version++) {
      await unitOfWork.transaction((tx) => store.save(tx, { ...record, version }, version - 1));
    }
  }
}
