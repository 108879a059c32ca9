import { ConfigurationError } from '@omnibus/core';

/**
 * What one client can make the registry hold or parse. A registry is shared infrastructure: without
 * caps, one caller could fill its memory (15 schemas of 8 MB grew it by 210 MB) or its stack (a deep
 * schema is parsed recursively by avsc). Every cap refuses with Confluent's status and code for the
 * case (422 / 42201 for a schema) or, for a quota, 422 / 42210 (ours: Confluent's registry has no
 * quotas), before anything is stored.
 */
export interface RegistryLimits {
  /** Longest schema text accepted, in bytes of UTF-8. Default 1 MiB. */
  readonly maxSchemaBytes?: number;
  /** Deepest nesting of the schema's JSON (objects and arrays). Default 64; avsc recurses per level. */
  readonly maxSchemaDepth?: number;
  /** Longest subject name, in characters. Default 255 (Kafka's topic-name limit is 249). */
  readonly maxSubjectLength?: number;
  /** Distinct schemas the registry will store. Default 10,000. */
  readonly maxSchemas?: number;
  /** Subjects the registry will hold, soft-deleted ones included. Default 10,000. */
  readonly maxSubjects?: number;
  /** Versions one subject will hold, soft-deleted ones included. Default 1,000. */
  readonly maxVersionsPerSubject?: number;
}

export type ResolvedRegistryLimits = Required<RegistryLimits>;

export const DEFAULT_REGISTRY_LIMITS: ResolvedRegistryLimits = Object.freeze({
  maxSchemaBytes: 1024 * 1024,
  maxSchemaDepth: 64,
  maxSubjectLength: 255,
  maxSchemas: 10_000,
  maxSubjects: 10_000,
  maxVersionsPerSubject: 1_000,
});

/** The limits with defaults filled in; a field that is not a positive integer is a configuration error. */
export function resolveRegistryLimits(limits: RegistryLimits = {}): ResolvedRegistryLimits {
  if (limits === null || typeof limits !== 'object') {
    throw new ConfigurationError('limits', 'must be an object of positive integers');
  }
  const resolved = { ...DEFAULT_REGISTRY_LIMITS };
  for (const name of Object.keys(DEFAULT_REGISTRY_LIMITS) as (keyof RegistryLimits)[]) {
    const value = limits[name];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ConfigurationError(`limits.${name}`, `must be a positive integer, got ${String(value)}`);
    }
    resolved[name] = value;
  }
  for (const name of Object.keys(limits)) {
    if (!(name in DEFAULT_REGISTRY_LIMITS)) throw new ConfigurationError(`limits.${name}`, 'is not a limit');
  }
  return Object.freeze(resolved);
}

/**
 * The nesting depth of a parsed JSON value (a scalar is 0, `{}` and `[]` are 1), walked without
 * recursion, stopping as soon as it passes `max`: it runs before avsc, which recurses.
 */
export function jsonDepthExceeds(value: unknown, max: number): boolean {
  const stack: { node: unknown; depth: number }[] = [{ node: value, depth: 0 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push({ node: child, depth: depth + 1 });
    }
  }
  return false;
}
