import type { SagaRecord, SagaStatus } from '@omnibus/core';
import type { Compensation, SagaHistoryEntry } from './saga-data.js';
import { parseData } from './saga-data.js';

/** A stored instance decoded for tools (the CLI, the console): what `inspectSaga` returns. */
export interface SagaInspection {
  readonly saga: string;
  readonly key: string;
  readonly version: number;
  readonly status: SagaStatus;
  /** The state as stored (the saga's `readState` does not apply: a tool has no saga class). */
  readonly state: unknown;
  /** The last 50 steps, oldest first; empty for an instance saved before history was kept. */
  readonly history: readonly SagaHistoryEntry[];
  /** Timeouts requested and not yet fired or cancelled. */
  readonly timeouts: readonly { readonly name: string; readonly dueAt: Date }[];
  /** Inverses recorded by `compensateWith`, in the order recorded (`compensate()` sends the last first). */
  readonly compensations: readonly Compensation[];
  /** Whether `compensate()` has run. */
  readonly compensated: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly completedAt?: Date;
}

/**
 * Decodes a `SagaRecord` as a saga store returns it (`store.get`, `store.list`) without the saga's
 * class: the store keeps `data` opaque, and this is the one reader of the runtime's document outside
 * it. Data that is not a saga document throws a non-retriable `DeserializationError` (code
 * `SAGA_STATE_UNREADABLE`).
 */
export function inspectSaga(record: SagaRecord): SagaInspection {
  const data = parseData(record.saga, record.key, record.data);
  return {
    saga: record.saga,
    key: record.key,
    version: record.version,
    status: record.status,
    state: data.state,
    history: data.history,
    timeouts: data.timeouts.map((timeout) => ({ name: timeout.name, dueAt: new Date(timeout.dueAt) })),
    compensations: data.compensations,
    compensated: data.compensated,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    ...(record.completedAt === undefined ? {} : { completedAt: record.completedAt }),
  };
}
