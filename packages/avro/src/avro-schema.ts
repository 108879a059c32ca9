import avsc from 'avsc';
import { SchemaError } from '@omnibus/core';
import { logicalTypes } from './logical-types.js';

/** An Avro schema in its JSON form: a type name, a union (array) or a type object. */
export type AvroSchemaJson = string | readonly AvroSchemaJson[] | { readonly [key: string]: unknown };

/** A parsed, valid Avro schema. */
export interface ParsedSchema {
  readonly json: AvroSchemaJson;
  /**
   * The schema as deterministic compact JSON: attributes in a fixed order, `{"type":"string"}` written
   * `"string"`, whitespace dropped, docs and custom attributes kept. Two texts of the same schema that
   * differ only in layout have the same canonical form; the registry stores and compares this form.
   */
  readonly canonical: string;
  /** The avsc type, with the Omnibus logical types (`Date`, decimal strings, uuid strings). */
  readonly type: avsc.Type;
  /** Full name of the top-level named type (`orders.OrderPlaced`); undefined for unnamed schemas. */
  readonly name: string | undefined;
}

export interface ParseSchemaOptions {
  /**
   * Refuse invalid logical types (a decimal whose scale exceeds its precision...). Default false: the
   * Avro specification says to read them as their underlying type, so schemas written by other tools
   * stay readable; Omnibus' own schema files are parsed strictly.
   */
  readonly strictLogicalTypes?: boolean;
}

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
const NAMED = new Set(['record', 'error', 'enum', 'fixed']);
const TYPE_KEYS = ['type', 'name', 'namespace', 'doc', 'aliases', 'fields', 'symbols', 'default'];
const TYPE_KEYS_AFTER = ['items', 'values', 'size', 'logicalType', 'precision', 'scale'];
const FIELD_KEYS = ['name', 'doc', 'aliases', 'type', 'default', 'order'];

/** Parses and validates a schema (JSON text or value). Throws `SchemaError` (`INVALID_SCHEMA`) when invalid. */
export function parseSchema(schema: string | AvroSchemaJson, options: ParseSchemaOptions = {}): ParsedSchema {
  let json: AvroSchemaJson;
  if (typeof schema === 'string') {
    try {
      json = JSON.parse(schema) as AvroSchemaJson;
    } catch (error) {
      throw new SchemaError(`invalid schema: not JSON: ${(error as Error).message}`, {
        code: 'INVALID_SCHEMA',
        cause: error,
      });
    }
  } else {
    json = schema;
  }
  let type: avsc.Type;
  try {
    type = avsc.Type.forSchema(json as avsc.Schema, {
      logicalTypes,
      assertLogicalTypes: options.strictLogicalTypes ?? false,
    });
  } catch (error) {
    throw new SchemaError(`invalid schema: ${(error as Error).message}`, {
      code: 'INVALID_SCHEMA',
      cause: error,
    });
  }
  return { json, canonical: JSON.stringify(normalizeType(json)), type, name: topLevelName(json) };
}

function topLevelName(json: AvroSchemaJson): string | undefined {
  if (typeof json !== 'object' || Array.isArray(json)) return undefined;
  const object = json as { type?: unknown; name?: unknown; namespace?: unknown };
  if (typeof object.type !== 'string' || !NAMED.has(object.type) || typeof object.name !== 'string') {
    return undefined;
  }
  if (object.name.includes('.') || typeof object.namespace !== 'string' || object.namespace === '') {
    return object.name;
  }
  return `${object.namespace}.${object.name}`;
}

/** Rewrites a schema with its attributes in a fixed order; values (defaults, custom attributes) kept as they are. */
function normalizeType(json: unknown): unknown {
  if (Array.isArray(json)) return json.map(normalizeType);
  if (typeof json !== 'object' || json === null) return json;
  const object = json as Record<string, unknown>;
  const keys = Object.keys(object);
  if (keys.length === 1 && typeof object.type === 'string' && PRIMITIVES.has(object.type)) return object.type;
  const out: Record<string, unknown> = {};
  const known = new Set([...TYPE_KEYS, ...TYPE_KEYS_AFTER]);
  const put = (key: string): void => {
    if (!(key in object)) return;
    const value = object[key];
    if (key === 'type' || key === 'items' || key === 'values') out[key] = normalizeType(value);
    else if (key === 'fields' && Array.isArray(value)) out[key] = value.map(normalizeField);
    else out[key] = value;
  };
  for (const key of TYPE_KEYS) put(key);
  for (const key of TYPE_KEYS_AFTER) put(key);
  for (const key of keys.filter((k) => !known.has(k)).sort()) out[key] = object[key];
  return out;
}

function normalizeField(field: unknown): unknown {
  if (typeof field !== 'object' || field === null) return field;
  const object = field as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of FIELD_KEYS) {
    if (key in object) out[key] = key === 'type' ? normalizeType(object[key]) : object[key];
  }
  for (const key of Object.keys(object)
    .filter((k) => !FIELD_KEYS.includes(k))
    .sort()) {
    out[key] = object[key];
  }
  return out;
}
