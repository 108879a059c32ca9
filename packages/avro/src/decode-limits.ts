import { ConfigurationError } from '@omnibus/core';

/**
 * What one Avro body may cost to decode. Checked on the bytes before avsc reads them, so a body that
 * claims more than the caps is refused after a scan of its bytes, before any array, map, string or
 * decimal is allocated.
 */
export interface DecodeLimits {
  /** The most array items plus map entries one body may hold, all collections together. Default 1,000,000. */
  readonly maxItems: number;
  /** The longest `string` or `bytes` value, in bytes. Default 8 MiB (8,388,608). */
  readonly maxLength: number;
  /** The deepest nesting of records, arrays and maps (a recursive schema unrolled). Default 64. */
  readonly maxDepth: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({
  maxItems: 1_000_000,
  maxLength: 8 * 1024 * 1024,
  maxDepth: 64,
});

/** The limits with defaults filled in; `ConfigurationError` naming the field when one is not a positive integer. */
export function resolveDecodeLimits(limits: Partial<DecodeLimits> | undefined): DecodeLimits {
  if (limits === undefined) return DEFAULT_DECODE_LIMITS;
  if (limits === null || typeof limits !== 'object') {
    throw new ConfigurationError('limits', 'must be an object { maxItems?, maxLength?, maxDepth? }');
  }
  const resolved = { ...DEFAULT_DECODE_LIMITS };
  for (const key of Object.keys(limits)) {
    if (!(key in DEFAULT_DECODE_LIMITS)) {
      throw new ConfigurationError(`limits.${key}`, 'is not a decode limit (maxItems, maxLength, maxDepth)');
    }
    const value = (limits as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new ConfigurationError(`limits.${key}`, 'must be a positive integer');
    }
    (resolved as Record<string, number>)[key] = value;
  }
  return Object.freeze(resolved);
}
