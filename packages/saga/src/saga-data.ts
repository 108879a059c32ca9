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

/** What a step did to its instance, as its history shows it. */
export type SagaStepAction = 'started' | 'handled' | 'timeout' | 'compensated' | 'completed';

/**
 * One committed step in an instance's history. A message that changed nothing (no instance, instance
 * completed, a timeout no longer waited for) saves nothing, so it has no entry: the runtime's stats
 * count those.
 */
export interface SagaHistoryEntry {
  /** The message type (`omnibus.saga.Timeout` for a timeout). */
  readonly type: string;
  readonly messageId: string;
  /** When the step ran (ISO time). */
  readonly at: string;
  /** The instance's version after the step. */
  readonly version: number;
  /** `completed` or `compensated` when the step did that, else `started`, `timeout` or `handled`. */
  readonly action: SagaStepAction;
  /** The timeout's name, for a timeout step. */
  readonly timeout?: string;
}

/** Steps kept in an instance's history, oldest dropped first. */
export const HISTORY_LIMIT = 50;

/** Everything the runtime persists for one instance, as one JSON document in `SagaRecord.data`. */
export interface SagaData {
  state: unknown;
  timeouts: PendingTimeout[];
  compensations: Compensation[];
  compensated: boolean;
  /** The last {@link HISTORY_LIMIT} steps, oldest first; documents written before history read as empty. */
  history: SagaHistoryEntry[];
}

export function freshData(state: unknown): SagaData {
  return { state, timeouts: [], compensations: [], compensated: false, history: [] };
}

/** Appends a step to `data`'s history, dropping the oldest beyond {@link HISTORY_LIMIT}. */
export function recordStep(data: SagaData, entry: SagaHistoryEntry): void {
  data.history.push(entry);
  if (data.history.length > HISTORY_LIMIT) data.history.splice(0, data.history.length - HISTORY_LIMIT);
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
  const data = parseData(definition.name, key, text);
  if (definition.readState === undefined) return data;
  try {
    return { ...data, state: definition.readState(data.state) };
  } catch (error) {
    throw unreadable(
      definition.name,
      key,
      `readState refused it: ${error instanceof Error ? error.message : String(error)}`,
      error,
    );
  }
}

/** The document as stored, without the saga's `readState` (for tools that have no saga class). */
export function parseData(saga: string, key: string, text: string): SagaData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, reviveDates);
  } catch (error) {
    throw unreadable(saga, key, 'it is not valid JSON', error);
  }
  const data = parsed as Partial<SagaData> | null;
  if (
    data === null ||
    typeof data !== 'object' ||
    !Array.isArray(data.timeouts) ||
    !Array.isArray(data.compensations) ||
    typeof data.compensated !== 'boolean' ||
    (data.history !== undefined && !Array.isArray(data.history)) ||
    !('state' in data)
  ) {
    throw unreadable(saga, key, 'it is not a saga document', undefined);
  }
  return { ...(data as SagaData), history: data.history ?? [] };
}

function unreadable(saga: string, key: string, why: string, cause: unknown): DeserializationError {
  return new DeserializationError(`saga ${saga} instance ${key}: stored state unreadable: ${why}`, {
    code: 'SAGA_STATE_UNREADABLE',
    cause,
  });
}
