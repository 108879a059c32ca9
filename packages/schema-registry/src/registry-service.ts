import type { CompatibilityLevel, ParsedSchema } from '@omnibus/avro';
import { checkCompatibility, isCompatibilityLevel, parseSchema } from '@omnibus/avro';
import { Refusal } from './registry-http-error.js';
import type { ResolvedRegistryLimits } from './registry-limits.js';
import { DEFAULT_REGISTRY_LIMITS, jsonDepthExceeds } from './registry-limits.js';
import type { RegistryMode, RegistryStore, StoredVersion } from './store.js';

/** What a client asks to register, look up or check: Confluent's request body. */
export interface SchemaRequest {
  readonly schema?: unknown;
  readonly schemaType?: unknown;
  readonly references?: unknown;
}

export interface VersionView {
  readonly subject: string;
  readonly version: number;
  readonly id: number;
  readonly schema: string;
}

/** `latest` or a version number. */
export type VersionRef = number | 'latest';

const MODES: readonly RegistryMode[] = ['READWRITE', 'READONLY'];

/**
 * The registry's rules, independent of HTTP: registration (idempotent; the same schema keeps one global
 * id across subjects; checked against the subject's compatibility level), lookups, soft and permanent
 * deletion, and settings, refusing with Confluent's error codes (`RegistryHttpError`). Changes run one
 * at a time, so a store sees no concurrent writes.
 */
export class RegistryService {
  readonly #store: RegistryStore;
  readonly #defaultCompatibility: CompatibilityLevel;
  readonly #limits: ResolvedRegistryLimits;
  #writes: Promise<unknown> = Promise.resolve();

  constructor(
    store: RegistryStore,
    defaultCompatibility: CompatibilityLevel,
    limits: ResolvedRegistryLimits = DEFAULT_REGISTRY_LIMITS,
  ) {
    this.#store = store;
    this.#defaultCompatibility = defaultCompatibility;
    this.#limits = limits;
  }

  async subjects(includeDeleted: boolean): Promise<string[]> {
    return this.#store.subjects(includeDeleted);
  }

  async versionNumbers(subject: string, includeDeleted: boolean): Promise<number[]> {
    const versions = await this.#versionsOf(subject, includeDeleted);
    return versions.map((v) => v.version);
  }

  async version(subject: string, ref: VersionRef, includeDeleted: boolean): Promise<VersionView> {
    return this.#view(await this.#find(subject, ref, includeDeleted));
  }

  async schemaById(id: number): Promise<string> {
    const text = Number.isSafeInteger(id) ? await this.#store.schemaText(id) : undefined;
    if (text === undefined) throw Refusal.schemaNotFound(`Schema ${id} not found`);
    return text;
  }

  /** The version of `subject` holding exactly this schema (canonical comparison). */
  async lookup(subject: string, request: SchemaRequest, includeDeleted: boolean): Promise<VersionView> {
    const parsed = parseRequest(request, this.#limits);
    const versions = await this.#versionsOf(subject, includeDeleted);
    const id = await this.#store.schemaId(parsed.canonical);
    const found = versions.find((v) => v.id === id);
    if (found === undefined) throw Refusal.schemaNotFound();
    return { subject, version: found.version, id: found.id, schema: parsed.canonical };
  }

  /** Registers `request.schema` under `subject`, or returns the id it already has there. */
  async register(subject: string, request: SchemaRequest): Promise<{ id: number }> {
    const parsed = parseRequest(request, this.#limits);
    return this.#exclusive(async () => {
      const versions = (await this.#store.versions(subject)).filter((v) => !v.deleted);
      const existingId = await this.#store.schemaId(parsed.canonical);
      if (existingId !== undefined && versions.some((v) => v.id === existingId)) return { id: existingId };
      await this.#assertWritable(subject);
      await this.#assertRoom(subject, existingId === undefined);
      const level = await this.compatibility(subject);
      const result = checkCompatibility(
        parsed.canonical,
        await Promise.all(
          versions.map(async (v) => ({ version: v.version, schema: await this.schemaById(v.id) })),
        ),
        level,
      );
      if (!result.compatible) {
        throw Refusal.incompatibleSchema(
          `Schema being registered is incompatible with an earlier schema for subject "${subject}", details: [${result.messages.join('; ')}]`,
        );
      }
      const id = existingId ?? (await this.#store.addSchema(parsed.canonical));
      await this.#store.addVersion(subject, id);
      return { id };
    });
  }

  /** Whether `request.schema` could be registered: against `ref`, or (`latest`) as the level says. */
  async testCompatibility(
    subject: string,
    ref: VersionRef,
    request: SchemaRequest,
  ): Promise<{ compatible: boolean; messages: readonly string[] }> {
    const parsed = parseRequest(request, this.#limits);
    const live = (await this.#store.versions(subject)).filter((v) => !v.deleted);
    let against: StoredVersion[];
    if (ref === 'latest') {
      against = live;
    } else {
      const found = live.find((v) => v.version === ref);
      if (found === undefined) {
        if (live.length === 0) throw Refusal.subjectNotFound(subject);
        throw Refusal.versionNotFound(ref);
      }
      against = [found];
    }
    const level = await this.compatibility(subject);
    const result = checkCompatibility(
      parsed.canonical,
      await Promise.all(
        against.map(async (v) => ({ version: v.version, schema: await this.schemaById(v.id) })),
      ),
      level,
    );
    return { compatible: result.compatible, messages: result.messages };
  }

  /** Soft-deletes a version, or removes a soft-deleted one when `permanent`. */
  async deleteVersion(subject: string, ref: VersionRef, permanent: boolean): Promise<number> {
    return this.#exclusive(async () => {
      // A numbered version is found even when soft-deleted, to say so (40406); `latest` is the live one.
      const found = await this.#find(subject, ref, ref !== 'latest' || permanent);
      await this.#assertWritable(subject);
      if (permanent) {
        if (!found.deleted) throw Refusal.versionNotSoftDeleted(subject, found.version);
        await this.#store.removeVersion(subject, found.version);
      } else {
        if (found.deleted) throw Refusal.versionSoftDeleted(subject, found.version);
        await this.#store.markDeleted(subject, found.version);
      }
      return found.version;
    });
  }

  /** Soft-deletes every version of a subject, or removes them all (after a soft delete) when `permanent`. */
  async deleteSubject(subject: string, permanent: boolean): Promise<number[]> {
    return this.#exclusive(async () => {
      const versions = await this.#store.versions(subject);
      if (versions.length === 0) throw Refusal.subjectNotFound(subject);
      await this.#assertWritable(subject);
      if (permanent) {
        if (versions.some((v) => !v.deleted)) throw Refusal.subjectNotSoftDeleted(subject);
        for (const v of versions) await this.#store.removeVersion(subject, v.version);
        await this.#store.setCompatibility(subject, undefined);
        await this.#store.setMode(subject, undefined);
        return versions.map((v) => v.version);
      }
      const live = versions.filter((v) => !v.deleted);
      if (live.length === 0) throw Refusal.subjectSoftDeleted(subject);
      for (const v of live) await this.#store.markDeleted(subject, v.version);
      return live.map((v) => v.version);
    });
  }

  /** The level that applies to `subject` (its own, else the global one), or the global level. */
  async compatibility(subject?: string): Promise<CompatibilityLevel> {
    const own = subject === undefined ? undefined : await this.#store.getCompatibility(subject);
    return own ?? (await this.#store.getCompatibility(null)) ?? this.#defaultCompatibility;
  }

  /** A subject's own level; `40408` when it has none. */
  async subjectCompatibility(subject: string): Promise<CompatibilityLevel> {
    const own = await this.#store.getCompatibility(subject);
    if (own === undefined) throw Refusal.subjectCompatibilityNotConfigured(subject);
    return own;
  }

  async setCompatibility(scope: string | null, level: unknown): Promise<CompatibilityLevel> {
    const normalized = typeof level === 'string' ? level.toUpperCase() : level;
    if (!isCompatibilityLevel(normalized)) throw Refusal.invalidCompatibilityLevel(level);
    return this.#exclusive(async () => {
      await this.#store.setCompatibility(scope, normalized);
      return normalized;
    });
  }

  /** Clears a subject's level (`40408` when it has none) or resets the global one; returns what it was. */
  async deleteCompatibility(scope: string | null): Promise<CompatibilityLevel> {
    return this.#exclusive(async () => {
      const previous = scope === null ? await this.compatibility() : await this.subjectCompatibility(scope);
      await this.#store.setCompatibility(scope, undefined);
      return previous;
    });
  }

  async mode(subject?: string): Promise<RegistryMode> {
    const own = subject === undefined ? undefined : await this.#store.getMode(subject);
    return own ?? (await this.#store.getMode(null)) ?? 'READWRITE';
  }

  async subjectMode(subject: string): Promise<RegistryMode> {
    const own = await this.#store.getMode(subject);
    if (own === undefined) throw Refusal.subjectModeNotConfigured(subject);
    return own;
  }

  async setMode(scope: string | null, mode: unknown): Promise<RegistryMode> {
    const normalized = typeof mode === 'string' ? mode.toUpperCase() : mode;
    if (!MODES.includes(normalized as RegistryMode)) throw Refusal.invalidMode(mode);
    return this.#exclusive(async () => {
      await this.#store.setMode(scope, normalized as RegistryMode);
      return normalized as RegistryMode;
    });
  }

  async #assertWritable(subject: string): Promise<void> {
    if ((await this.mode(subject)) === 'READONLY') throw Refusal.readOnly(subject);
  }

  async #versionsOf(subject: string, includeDeleted: boolean): Promise<StoredVersion[]> {
    const versions = (await this.#store.versions(subject)).filter((v) => includeDeleted || !v.deleted);
    if (versions.length === 0) throw Refusal.subjectNotFound(subject);
    return versions;
  }

  async #find(subject: string, ref: VersionRef, includeDeleted: boolean): Promise<StoredVersion> {
    const versions = await this.#versionsOf(subject, includeDeleted);
    const found = ref === 'latest' ? versions.at(-1) : versions.find((v) => v.version === ref);
    if (found === undefined) throw Refusal.versionNotFound(ref);
    return found;
  }

  async #view(version: StoredVersion): Promise<VersionView> {
    return {
      subject: version.subject,
      version: version.version,
      id: version.id,
      schema: await this.schemaById(version.id),
    };
  }

  /** Refuses a registration that would pass a quota: subject name length, subjects, versions, schemas. */
  async #assertRoom(subject: string, newSchema: boolean): Promise<void> {
    const limits = this.#limits;
    if (subject.length > limits.maxSubjectLength) {
      throw Refusal.quotaExceeded(`subject names are limited to ${limits.maxSubjectLength} characters`);
    }
    const all = await this.#store.versions(subject);
    if (all.length >= limits.maxVersionsPerSubject) {
      throw Refusal.quotaExceeded(
        `subject "${subject}" holds ${all.length} versions, the limit (soft-deleted ones count until removed)`,
      );
    }
    if (all.length === 0 && (await this.#store.subjects(true)).length >= limits.maxSubjects) {
      throw Refusal.quotaExceeded(`the registry holds ${limits.maxSubjects} subjects, the limit`);
    }
    if (newSchema && (await this.#store.schemaCount()) >= limits.maxSchemas) {
      throw Refusal.quotaExceeded(`the registry holds ${limits.maxSchemas} schemas, the limit`);
    }
  }

  /** Runs `work` after every change before it: one change at a time. */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#writes.then(work, work);
    this.#writes = run.catch(() => undefined);
    return run;
  }
}

function parseRequest(request: SchemaRequest, limits: ResolvedRegistryLimits): ParsedSchema {
  if (request === null || typeof request !== 'object')
    throw Refusal.invalidSchema('request body must be an object');
  if (request.schemaType !== undefined && request.schemaType !== null && request.schemaType !== 'AVRO') {
    throw Refusal.invalidSchema(
      `schemaType ${JSON.stringify(request.schemaType)}: this registry supports AVRO only`,
    );
  }
  if (Array.isArray(request.references) && request.references.length > 0) {
    throw Refusal.invalidSchema('with references: this registry does not support schema references');
  }
  if (typeof request.schema !== 'string' || request.schema.trim() === '') {
    throw Refusal.invalidSchema('schema must be a non-empty string');
  }
  const bytes = Buffer.byteLength(request.schema);
  if (bytes > limits.maxSchemaBytes) {
    throw Refusal.invalidSchema(`of ${bytes} bytes: schemas are limited to ${limits.maxSchemaBytes} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(request.schema);
  } catch (error) {
    throw Refusal.invalidSchema(`${request.schema.slice(0, 200)}: not JSON: ${(error as Error).message}`);
  }
  // Before avsc, which parses recursively: a deep schema would be accepted while the stack allows.
  if (jsonDepthExceeds(json, limits.maxSchemaDepth)) {
    throw Refusal.invalidSchema(`nested deeper than ${limits.maxSchemaDepth} levels (the limit)`);
  }
  try {
    return parseSchema(request.schema);
  } catch (error) {
    throw Refusal.invalidSchema(`${request.schema.slice(0, 200)}: ${(error as Error).message}`);
  }
}
