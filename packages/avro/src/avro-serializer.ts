import { statSync } from 'node:fs';
import { inspect } from 'node:util';
import type avsc from 'avsc';
import type { Contract, Serializer } from '@omnibus/core';
import { ConfigurationError, DeserializationError, SchemaError } from '@omnibus/core';
import type { DecodeGuard } from './decode-guard.js';
import { createDecodeGuard } from './decode-guard.js';
import type { DecodeLimits } from './decode-limits.js';
import { resolveDecodeLimits } from './decode-limits.js';
import type { ParsedSchema } from './avro-schema.js';
import { parseSchema } from './avro-schema.js';
import { RegistryError, RegistryErrorCode } from './registry-error.js';
import { readSchemaFile } from './schema-files.js';
import { toSchemaGraph } from './schema-graph.js';
import type { SchemaRegistry } from './schema-registry.js';
import { resolutionIncompatibilities } from './schema-resolution.js';
import type { SubjectNameStrategy } from './subject-name-strategy.js';
import { TopicNameStrategy, TopicRecordNameStrategy } from './subject-name-strategy.js';
import { MAGIC_BYTE, WIRE_HEADER_BYTES, unframe } from './wire-format.js';

export const AVRO_CONTENT_TYPE = 'application/avro';

/** How many unknown schema ids are remembered at once; the oldest is forgotten first. */
const MAX_UNKNOWN_IDS = 1_000;

export interface AvroSerializerOptions {
  /** Where schema ids come from: a `SchemaRegistryClient`, or anything implementing `SchemaRegistry`. */
  readonly registry: SchemaRegistry;
  /** The directory contracts' `schema` paths are relative to (the repository's `schemas/`). */
  readonly schemasDir: string;
  /**
   * Register a contract's schema on first publish (default true, as Confluent's clients do). When
   * false the schema must already be registered (e.g. by `omnibus schemas register` in CI): the
   * serializer only looks its id up, and publishing fails with `SCHEMA_NOT_REGISTERED` otherwise.
   */
  readonly autoRegister?: boolean;
  /**
   * The subject a schema is registered under. Default `TopicRecordNameStrategy`
   * (`<channel-or-queue>-<record full name>`): a channel carries several types, each with its own history.
   */
  readonly subjectNameStrategy?: SubjectNameStrategy;
  /** What one body may cost to decode; each cap defaults as `DEFAULT_DECODE_LIMITS` says. */
  readonly limits?: Partial<DecodeLimits>;
  /**
   * How long a schema id the registry does not hold stays known as unknown, in ms (default 30,000):
   * messages naming it in that time are dead-lettered without asking the registry again, so a stream
   * of bad ids costs one registry call per id per period, not one per message.
   */
  readonly unknownSchemaIdTtlMs?: number;
}

/** A writer's schema with the scan its bodies pass before avsc reads them. */
interface Writer extends ParsedSchema {
  readonly guard: DecodeGuard;
}

interface Reading {
  readonly type: avsc.Type;
  /** Undefined when the writer's schema is the reader's. */
  readonly resolver: ReturnType<avsc.Type['createResolver']> | undefined;
}

/**
 * Avro in Confluent's wire format (magic byte 0, 4-byte big-endian schema id, Avro binary), with content
 * type `application/avro`. Writing uses the contract's schema file and its registry id; reading fetches
 * the writer's schema by the id in the body (cached) and resolves it to the contract's schema, so
 * producers and consumers on different compatible versions read each other. Timestamps are `Date`s,
 * decimals are strings, uuids are strings (see `logicalTypes`).
 *
 * Failures are typed: a payload that does not fit the schema, a schema the registry refuses or does not
 * hold, an unknown schema id, or a writer schema the reader cannot resolve are `SchemaError`s; bytes
 * that are not the wire format or not valid Avro are `DeserializationError`s. Before avsc reads a body,
 * a scan of its bytes against the writer's schema refuses what would cost more than `limits` (item
 * counts the bytes cannot hold, caps on items, lengths and depth), invalid UTF-8 in strings and
 * decimals longer than their precision needs, so decoding costs at most linear time in the body's
 * length plus `limits.maxItems`. Both are non-retriable:
 * the bus dead-letters such a message with the reason. A registry that cannot be reached is a
 * retriable `RegistryError`.
 */
export class AvroSerializer implements Serializer {
  readonly contentType = AVRO_CONTENT_TYPE;
  readonly #registry: SchemaRegistry;
  readonly #schemasDir: string;
  readonly #autoRegister: boolean;
  readonly #subjectName: SubjectNameStrategy;
  readonly #local = new Map<string, Promise<ParsedSchema>>();
  readonly #ids = new Map<string, Promise<number>>();
  readonly #writers = new Map<number, Promise<Writer>>();
  /** Schema ids the registry said it does not hold, until when that answer stands. */
  readonly #unknownIds = new Map<number, { until: number; cause: unknown }>();
  /** What the promises above resolved to: the synchronous fast path. */
  readonly #loaded = new Map<string, ParsedSchema>();
  readonly #knownIds = new Map<string, number>();
  readonly #knownWriters = new Map<number, Writer>();
  readonly #limits: DecodeLimits;
  readonly #unknownSchemaIdTtlMs: number;
  readonly #readings = new Map<string, Reading>();
  #scratch = Buffer.allocUnsafe(4096);

  constructor(options: AvroSerializerOptions) {
    if (options === null || typeof options !== 'object') {
      throw new ConfigurationError('options', 'must be an object');
    }
    const registry = options.registry as Partial<SchemaRegistry> | undefined;
    if (
      typeof registry?.register !== 'function' ||
      typeof registry.lookup !== 'function' ||
      typeof registry.getSchemaById !== 'function'
    ) {
      throw new ConfigurationError('registry', 'must implement SchemaRegistry (e.g. a SchemaRegistryClient)');
    }
    if (typeof options.schemasDir !== 'string' || options.schemasDir === '') {
      throw new ConfigurationError('schemasDir', 'must be the path of the schemas directory');
    }
    let isDirectory = false;
    try {
      isDirectory = statSync(options.schemasDir).isDirectory();
    } catch {
      // reported below
    }
    if (!isDirectory) throw new ConfigurationError('schemasDir', `${options.schemasDir} is not a directory`);
    if (options.autoRegister !== undefined && typeof options.autoRegister !== 'boolean') {
      throw new ConfigurationError('autoRegister', 'must be a boolean');
    }
    if (options.subjectNameStrategy !== undefined && typeof options.subjectNameStrategy !== 'function') {
      throw new ConfigurationError(
        'subjectNameStrategy',
        'must be a function (contract, recordName) => subject',
      );
    }
    const ttl = options.unknownSchemaIdTtlMs;
    if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 0)) {
      throw new ConfigurationError('unknownSchemaIdTtlMs', 'must be a non-negative integer (ms)');
    }
    this.#limits = resolveDecodeLimits(options.limits);
    this.#unknownSchemaIdTtlMs = ttl ?? 30_000;
    this.#registry = options.registry;
    this.#schemasDir = options.schemasDir;
    this.#autoRegister = options.autoRegister ?? true;
    this.#subjectName = options.subjectNameStrategy ?? TopicRecordNameStrategy;
  }

  /**
   * The framed body. Once a contract's schema and id are known (from its first message on) this runs
   * synchronously and returns the bytes themselves; until then, and on failure, a promise.
   */
  encode(payload: unknown, contract: Contract): Uint8Array | Promise<Uint8Array> {
    const path = contract.schema;
    const schema = path === undefined ? undefined : this.#loaded.get(path);
    if (schema !== undefined) {
      try {
        const id = this.#knownIds.get(`${this.#subjectName(contract, schema.name)}\u0000${path}`);
        if (id !== undefined) return this.#write(schema, id, payload, contract);
      } catch (error) {
        return rejected(error);
      }
    }
    return this.#encodeFirst(payload, contract);
  }

  /** The payload; synchronously once the writer's schema and the resolution are known. */
  decode(body: Uint8Array, contract: Contract): unknown {
    try {
      const { schemaId, avro } = unframe(body);
      const writer = this.#knownWriters.get(schemaId);
      if (writer !== undefined) {
        const reading =
          contract.schema === undefined
            ? { type: writer.type, resolver: undefined }
            : this.#readings.get(`${schemaId}\u0000${contract.schema}`);
        if (reading !== undefined) return this.#read(writer, reading, avro, schemaId, contract);
      }
    } catch (error) {
      return rejected(error);
    }
    return this.#decodeFirst(body, contract);
  }

  async #encodeFirst(payload: unknown, contract: Contract): Promise<Uint8Array> {
    const schema = await this.#schemaOf(contract);
    // Validate before asking the registry: a bad payload must not register anything.
    this.#write(schema, 0, payload, contract);
    const subject = this.#subjectName(contract, schema.name);
    return this.#write(schema, await this.#idOf(contract, subject, schema), payload, contract);
  }

  async #decodeFirst(body: Uint8Array, contract: Contract): Promise<unknown> {
    const { schemaId, avro } = unframe(body);
    const writer = await this.#writerSchema(schemaId, contract);
    const reading =
      contract.schema === undefined
        ? { type: writer.type, resolver: undefined }
        : await this.#reading(schemaId, writer, contract);
    return this.#read(writer, reading, avro, schemaId, contract);
  }

  /** Writes the framed body: Avro straight after the header in a reused buffer, then one exact copy. */
  #write(schema: ParsedSchema, id: number, payload: unknown, contract: Contract): Uint8Array {
    let end: number;
    try {
      end = schema.type.encode(payload, this.#scratch, WIRE_HEADER_BYTES);
      while (end < 0) {
        // avsc reports how many bytes were missing.
        this.#scratch = Buffer.allocUnsafe(Math.max(this.#scratch.length * 2, this.#scratch.length - end));
        end = schema.type.encode(payload, this.#scratch, WIRE_HEADER_BYTES);
      }
    } catch (error) {
      throw new SchemaError(
        `${contract.type}: payload does not match ${contract.schema}: ${describeInvalid(schema.type, payload)}`,
        { code: 'PAYLOAD_MISMATCH', cause: error },
      );
    }
    const out = Buffer.allocUnsafe(end);
    this.#scratch.copy(out, 0, 0, end);
    out[0] = MAGIC_BYTE;
    out.writeUInt32BE(id, 1);
    return out;
  }

  #read(writer: Writer, reading: Reading, avro: Buffer, schemaId: number, contract: Contract): unknown {
    try {
      writer.guard(avro);
      return reading.type.fromBuffer(avro, reading.resolver);
    } catch (error) {
      if (error instanceof DeserializationError) {
        throw new DeserializationError(`${contract.type}: schema id ${schemaId}: ${error.message}`, {
          code: error.code,
          cause: error,
        });
      }
      throw new DeserializationError(
        `${contract.type}: body is not valid Avro for schema id ${schemaId}: ${(error as Error).message}`,
        { code: 'MALFORMED_BODY', cause: error },
      );
    }
  }

  #schemaOf(contract: Contract): Promise<ParsedSchema> {
    const path = contract.schema;
    if (path === undefined) {
      return Promise.reject(
        new SchemaError(
          `${contract.type}: Avro needs the contract to name its schema (schema: 'dir/Name.avsc')`,
          {
            code: 'NO_SCHEMA',
          },
        ),
      );
    }
    let pending = this.#local.get(path);
    if (pending === undefined) {
      pending = readSchemaFile(this.#schemasDir, path).then((text) => {
        try {
          const parsed = parseSchema(text, { strictLogicalTypes: true });
          this.#loaded.set(path, parsed);
          return parsed;
        } catch (error) {
          throw new SchemaError(`${path}: ${(error as Error).message}`, {
            code: 'INVALID_SCHEMA',
            cause: error,
          });
        }
      });
      this.#local.set(path, pending);
      pending.catch(() => this.#local.delete(path));
    }
    return pending;
  }

  #idOf(contract: Contract, subject: string, schema: ParsedSchema): Promise<number> {
    const key = `${subject}\u0000${contract.schema}`;
    let pending = this.#ids.get(key);
    if (pending === undefined) {
      pending = this.#fetchId(contract, subject, schema).then((id) => {
        this.#knownIds.set(key, id);
        return id;
      });
      this.#ids.set(key, pending);
      pending.catch(() => this.#ids.delete(key));
    }
    return pending;
  }

  async #fetchId(contract: Contract, subject: string, schema: ParsedSchema): Promise<number> {
    try {
      if (this.#autoRegister) return await this.#registry.register(subject, schema.canonical);
      return (await this.#registry.lookup(subject, schema.canonical)).id;
    } catch (error) {
      if (!(error instanceof RegistryError) || error.retriable) throw error;
      if (error.errorCode === RegistryErrorCode.incompatibleSchema) {
        const hint =
          this.#subjectName === TopicNameStrategy
            ? ' (TopicNameStrategy gives a channel one subject, so one record type: a channel carrying several types needs TopicRecordNameStrategy)'
            : '';
        throw new SchemaError(
          `${contract.type}: the registry refused ${contract.schema} under subject ${subject}: ${error.message}${hint}`,
          { code: 'INCOMPATIBLE_SCHEMA', cause: error },
        );
      }
      if (
        error.errorCode === RegistryErrorCode.subjectNotFound ||
        error.errorCode === RegistryErrorCode.schemaNotFound
      ) {
        throw new SchemaError(
          `${contract.type}: ${contract.schema} is not registered under subject ${subject} and autoRegister is off`,
          { code: 'SCHEMA_NOT_REGISTERED', cause: error },
        );
      }
      throw new SchemaError(
        `${contract.type}: registering ${contract.schema} under ${subject}: ${error.message}`,
        {
          code: 'SCHEMA_REGISTRATION_FAILED',
          cause: error,
        },
      );
    }
  }

  #writerSchema(schemaId: number, contract: Contract): Promise<Writer> {
    const unknown = this.#unknownIds.get(schemaId);
    if (unknown !== undefined) {
      if (Date.now() < unknown.until)
        return Promise.reject(unknownSchemaId(schemaId, contract, unknown.cause));
      this.#unknownIds.delete(schemaId);
    }
    let pending = this.#writers.get(schemaId);
    if (pending === undefined) {
      pending = this.#registry.getSchemaById(schemaId).then(
        (text) => {
          const parsed = parseSchema(text);
          const writer = { ...parsed, guard: createDecodeGuard(parsed.type, this.#limits) };
          this.#knownWriters.set(schemaId, writer);
          return writer;
        },
        (error: unknown) => {
          if (error instanceof RegistryError && error.errorCode === RegistryErrorCode.schemaNotFound) {
            if (this.#unknownSchemaIdTtlMs > 0) {
              // Bounded: a stream of random ids must not grow the cache without end.
              if (this.#unknownIds.size >= MAX_UNKNOWN_IDS) {
                this.#unknownIds.delete(this.#unknownIds.keys().next().value!);
              }
              this.#unknownIds.set(schemaId, {
                until: Date.now() + this.#unknownSchemaIdTtlMs,
                cause: error,
              });
            }
            throw unknownSchemaId(schemaId, contract, error);
          }
          throw error;
        },
      );
      this.#writers.set(schemaId, pending);
      pending.catch(() => this.#writers.delete(schemaId));
    }
    return pending;
  }

  async #reading(schemaId: number, writer: ParsedSchema, contract: Contract): Promise<Reading> {
    const reader = await this.#schemaOf(contract);
    const key = `${schemaId}\u0000${contract.schema}`;
    let reading = this.#readings.get(key);
    if (reading === undefined) {
      if (reader.canonical === writer.canonical) {
        reading = { type: reader.type, resolver: undefined };
      } else {
        try {
          reading = {
            type: reader.type,
            resolver: reader.type.createResolver(writer.type, { ignoreNamespaces: true }),
          };
        } catch (error) {
          const reasons = resolutionIncompatibilities(toSchemaGraph(reader.json), toSchemaGraph(writer.json));
          throw new SchemaError(
            `${contract.type}: data written with schema id ${schemaId} cannot be read with ${contract.schema}: ${
              reasons.map((r) => `at ${r.path}: ${r.message}`).join('; ') || (error as Error).message
            }`,
            { code: 'INCOMPATIBLE_SCHEMA', cause: error },
          );
        }
      }
      this.#readings.set(key, reading);
    }
    return reading;
  }
}

function unknownSchemaId(schemaId: number, contract: Contract, cause: unknown): SchemaError {
  return new SchemaError(`${contract.type}: schema id ${schemaId} is unknown to the registry`, {
    code: 'UNKNOWN_SCHEMA_ID',
    cause,
  });
}

/** A failure of the synchronous path, delivered the way the asynchronous path delivers it. */
function rejected(error: unknown): Promise<never> {
  return Promise.reject(error instanceof Error ? error : new Error(String(error)));
}

/** Where and why a payload does not fit its schema, e.g. `total: 12.5 is not a decimal(12,2) string`. */
function describeInvalid(type: avsc.Type, payload: unknown): string {
  const problems: string[] = [];
  type.isValid(payload, {
    errorHook: (path, value, expected) => {
      if (problems.length < 5) {
        const shown = inspect(value, { depth: 1, breakLength: Infinity, maxStringLength: 60 });
        problems.push(`${path.join('.') || '(root)'}: ${shown} is not ${describeType(expected)}`);
      }
    },
  });
  return problems.length === 0 ? 'not encodable' : problems.join('; ');
}

function describeType(type: avsc.Type): string {
  const typeName = type.typeName;
  if (typeName === 'logical:decimal') {
    const decimal = type as unknown as { precision: number; scale: number };
    return `a decimal(${decimal.precision},${decimal.scale}) string`;
  }
  if (typeName === 'logical:timestamp-millis') return 'a valid Date';
  if (typeName === 'logical:uuid') return 'a uuid string';
  return type.name === undefined ? `a valid ${typeName}` : `a valid ${typeName} ${type.name}`;
}
