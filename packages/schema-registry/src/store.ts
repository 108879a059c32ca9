import type { CompatibilityLevel } from '@omnibus/avro';

/** `READWRITE` (default) or `READONLY`: a read-only subject (or registry) refuses registrations and deletions. */
export type RegistryMode = 'READWRITE' | 'READONLY';

export interface StoredVersion {
  readonly subject: string;
  readonly version: number;
  /** Global id of the version's schema. */
  readonly id: number;
  /** Soft-deleted: hidden unless asked for, until removed for good. */
  readonly deleted: boolean;
}

/**
 * Where a registry keeps schemas, subject versions and settings. The registry server calls a store from
 * one instance at a time and runs each change (a registration, a deletion) alone, so a store need not
 * lock; every method resolves once its change is durable (for durable stores).
 *
 * Rules every store keeps (the conformance suite in `@omnibus/schema-registry/testing` checks them):
 * - schema ids are global, start at 1, grow, and are never reused, even after deletions;
 * - a schema text is stored once: `addSchema` of a stored text is not called, `schemaId` finds it;
 * - versions of a subject start at 1 and the next one is one more than the highest it holds, soft-deleted
 *   ones included; `versions` lists them in ascending order;
 * - `scope` `null` is the registry-wide setting; a subject's setting is kept apart from it.
 */
export interface RegistryStore {
  /** The id of this exact (canonical) schema text, if stored. */
  schemaId(schema: string): Promise<number | undefined>;
  /** The text of the schema with this id, if any. */
  schemaText(id: number): Promise<string | undefined>;
  /** How many schema texts are stored (deleted versions do not remove their schema). */
  schemaCount(): Promise<number>;
  /** Stores a new schema text under the next id and returns the id. */
  addSchema(schema: string): Promise<number>;
  /** Subjects with at least one version; with `includeDeleted`, also those with only soft-deleted ones. Sorted. */
  subjects(includeDeleted: boolean): Promise<string[]>;
  /** Every version of `subject`, soft-deleted ones included, ascending. */
  versions(subject: string): Promise<StoredVersion[]>;
  /** Adds the next version of `subject`, holding schema `id`, and returns its number. */
  addVersion(subject: string, id: number): Promise<number>;
  markDeleted(subject: string, version: number): Promise<void>;
  /** Removes a version for good. */
  removeVersion(subject: string, version: number): Promise<void>;
  getCompatibility(scope: string | null): Promise<CompatibilityLevel | undefined>;
  /** Sets, or with `undefined` clears, a compatibility level. */
  setCompatibility(scope: string | null, level: CompatibilityLevel | undefined): Promise<void>;
  getMode(scope: string | null): Promise<RegistryMode | undefined>;
  /** Sets, or with `undefined` clears, a mode. */
  setMode(scope: string | null, mode: RegistryMode | undefined): Promise<void>;
  close(): Promise<void>;
}
