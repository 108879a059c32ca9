import type { Envelope } from '@omnibus/core';
import { readFailure } from '@omnibus/core';

/** Which dead letters a command acts on; every given field must match. */
export interface DeadLetterFilter {
  readonly id?: string;
  readonly type?: string;
  /** The failure's error code (`omnibus-error-code`). */
  readonly code?: string;
  /** Failed at or after. */
  readonly since?: Date;
  /** Failed before. */
  readonly until?: Date;
}

export function isFilterEmpty(filter: DeadLetterFilter): boolean {
  return Object.values(filter).every((value) => value === undefined);
}

export function matches(filter: DeadLetterFilter, envelope: Envelope): boolean {
  if (filter.id !== undefined && envelope.id !== filter.id) return false;
  if (filter.type !== undefined && envelope.type !== filter.type) return false;
  const failure = readFailure(envelope);
  if (filter.code !== undefined && failure?.code !== filter.code) return false;
  const failedAt = failure?.failedAt.getTime();
  if (filter.since !== undefined && (failedAt === undefined || failedAt < filter.since.getTime()))
    return false;
  if (filter.until !== undefined && (failedAt === undefined || failedAt >= filter.until.getTime()))
    return false;
  return true;
}
