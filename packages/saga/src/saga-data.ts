import { DeserializationError } from '@omnibus/core';
import type { SagaDefinition } from './saga-definition.js';

/** A timeout requested and not yet fired or cancelled. */
export interface PendingTimeout {
  readonly name: string;
  readonly token: string;
  readonly dueAt: string;
  /** The scheduler's id, to cancel it; absent when the scheduler gave none. */
  readonly scheduleId?: string;
}

/** A recorded inverse: sent by `compensate()`, last recorded first. */
export interface Compensation {
  readonly type: string;
  readonly payload: unknown;
}

/** Everything the runtime persists for one instance, as one JSON document in `SagaRecord.data`. */
export interface SagaData {
  state: unknown;
  timeouts: PendingTimeout[];
  compensations: Compensation[];
  compensated: boolean;
}

export function freshData(state: unknown): SagaData {
  return { state, timeouts: [], compensations: [], compensated: false };
}

/**
 * JSON, with each `Date` (in the state, in a recorded compensation's payload) written as
 * `{ "$date": "<ISO time>" }` and read back as a `Date`: a compensation sent steps later, or a state
 * field, keeps the type its contract or schema expects instead of coming back as a string. (So an
 * object whose one key is `$date`, holding a string, is read as a Date too.)
 */
export function writeData(data: SagaData): string {
  return JSON.stringify(data, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key]; // before Date#toJSON turned it into a string
    return raw instanceof Date ? { $date: Number.isNaN(raw.getTime()) ? null : raw.toISOString() } : value;
  });
}

function reviveDates(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== '$date') return value;
  const iso = (value as { $date: unknown }).$date;
  if (iso === null) return new Date(Number.NaN);
  return typeof iso === 'string' ? new Date(iso) : value;
}

/**
 * Reads a stored document: bytes that are not our JSON, or state the saga's `readState` refuses, are a
 * non-retriable `DeserializationError` (code `SAGA_STATE_UNREADABLE`) — retrying cannot fix a row.
 */
export function readData(definition: SagaDefinition, key: string, text: string): SagaData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, reviveDates);
  } catch (error) {
    throw unreadable(definition, key, 'it is not valid JSON', error);
  }
  const data = parsed as Partial<SagaData> | null;
  if (
    data === null ||
    typeof data !== 'object' ||
    !Array.isArray(data.timeouts) ||
    !Array.isArray(data.compensations) ||
    typeof data.compensated !== 'boolean' ||
    !('state' in data)
  ) {
    throw unreadable(definition, key, 'it is not a saga document', undefined);
  }
  if (definition.readState === undefined) return data as SagaData;
  try {
    return { ...(data as SagaData), state: definition.readState(data.state) };
  } catch (error) {
    throw unreadable(
      definition,
      key,
      `readState refused it: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
}

function unreadable(
  definition: SagaDefinition,
  key: string,
  why: string,
  cause: unknown,
): DeserializationError {
  return new DeserializationError(
    `saga ${definition.name} instance ${key}: stored state unreadable: ${why}`,
    {
      code: 'SAGA_STATE_UNREADABLE',
      cause,
    },
  );
}
