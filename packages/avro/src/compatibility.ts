import { ConfigurationError } from '@omnibus/core';
import type { AvroSchemaJson } from './avro-schema.js';
import { parseSchema } from './avro-schema.js';
import { toSchemaGraph } from './schema-graph.js';
import type { Incompatibility } from './schema-resolution.js';
import { resolutionIncompatibilities } from './schema-resolution.js';

export const COMPATIBILITY_LEVELS = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const;

/**
 * What a new schema version must keep working with (Confluent's names and meanings):
 * - `BACKWARD`: consumers on the new schema read data written with the previous version;
 * - `FORWARD`: consumers on the previous version read data written with the new one;
 * - `FULL`: both; `NONE`: no check;
 * - `_TRANSITIVE`: against every earlier version instead of only the latest.
 */
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

export function isCompatibilityLevel(value: unknown): value is CompatibilityLevel {
  return typeof value === 'string' && (COMPATIBILITY_LEVELS as readonly string[]).includes(value);
}

/** An earlier version of a subject. */
export interface PreviousVersion {
  readonly version: number;
  readonly schema: string | AvroSchemaJson;
}

/** One reason a new schema is refused, with the version and direction it fails. */
export interface CompatibilityViolation extends Incompatibility {
  readonly version: number;
  /** `backward`: the new schema cannot read the old version's data; `forward`: the reverse. */
  readonly direction: 'backward' | 'forward';
}

export interface CompatibilityResult {
  readonly compatible: boolean;
  readonly violations: readonly CompatibilityViolation[];
  /** One human-readable line per violation: level, version, path, what and which rule. */
  readonly messages: readonly string[];
}

/**
 * Checks `candidate` against the `previous` versions of a subject (oldest first) under `level`. Schemas
 * are parsed first: an invalid one throws `SchemaError` (`INVALID_SCHEMA`).
 */
export function checkCompatibility(
  candidate: string | AvroSchemaJson,
  previous: readonly PreviousVersion[],
  level: CompatibilityLevel,
): CompatibilityResult {
  if (!isCompatibilityLevel(level)) {
    throw new ConfigurationError('level', `must be one of ${COMPATIBILITY_LEVELS.join(', ')}`);
  }
  const newGraph = toSchemaGraph(parseSchema(candidate).json);
  if (level === 'NONE' || previous.length === 0) return { compatible: true, violations: [], messages: [] };
  const against = level.endsWith('_TRANSITIVE') ? previous : previous.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const violations: CompatibilityViolation[] = [];
  for (const old of [...against].reverse()) {
    const oldGraph = toSchemaGraph(parseSchema(old.schema).json);
    if (backward) {
      for (const found of resolutionIncompatibilities(newGraph, oldGraph)) {
        violations.push({ ...found, version: old.version, direction: 'backward' });
      }
    }
    if (forward) {
      for (const found of resolutionIncompatibilities(oldGraph, newGraph)) {
        violations.push({ ...found, version: old.version, direction: 'forward' });
      }
    }
  }
  const messages = violations.map(
    (v) =>
      `${level}: ${
        v.direction === 'backward'
          ? `the new schema cannot read data written with version ${v.version}`
          : `version ${v.version} cannot read data written with the new schema`
      }: at ${v.path}: ${v.message} [${v.type}]`,
  );
  return { compatible: violations.length === 0, violations, messages };
}
