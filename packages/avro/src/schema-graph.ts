import { SchemaError } from '@omnibus/core';
import type { AvroSchemaJson } from './avro-schema.js';

/**
 * An Avro schema with its names resolved: every reference to a named type is the node of its
 * definition (so recursive schemas are cyclic graphs), every name is a full name. What the
 * compatibility checker walks.
 */
export type SchemaNode = PrimitiveNode | RecordNode | EnumNode | FixedNode | ArrayNode | MapNode | UnionNode;

export type PrimitiveKind = 'null' | 'boolean' | 'int' | 'long' | 'float' | 'double' | 'bytes' | 'string';

export interface PrimitiveNode {
  readonly kind: PrimitiveKind;
}

interface NamedNode {
  /** Full name, e.g. `orders.OrderPlaced`. */
  readonly name: string;
  /** Full names. */
  readonly aliases: readonly string[];
}

export interface FieldNode {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly type: SchemaNode;
  readonly hasDefault: boolean;
}

export interface RecordNode extends NamedNode {
  readonly kind: 'record';
  readonly fields: FieldNode[];
}

export interface EnumNode extends NamedNode {
  readonly kind: 'enum';
  readonly symbols: readonly string[];
  readonly default: string | undefined;
}

export interface FixedNode extends NamedNode {
  readonly kind: 'fixed';
  readonly size: number;
}

export interface ArrayNode {
  readonly kind: 'array';
  readonly items: SchemaNode;
}

export interface MapNode {
  readonly kind: 'map';
  readonly values: SchemaNode;
}

export interface UnionNode {
  readonly kind: 'union';
  readonly branches: readonly SchemaNode[];
}

const PRIMITIVES = new Set<string>(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

/** Builds the graph of a schema already validated by `parseSchema`. */
export function toSchemaGraph(json: AvroSchemaJson): SchemaNode {
  return build(json, '', new Map());
}

function fullName(name: string, namespace: string): string {
  return name.includes('.') || namespace === '' ? name : `${namespace}.${name}`;
}

function namespaceOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(0, dot);
}

function build(json: unknown, namespace: string, named: Map<string, SchemaNode>): SchemaNode {
  if (typeof json === 'string') {
    if (PRIMITIVES.has(json)) return { kind: json as PrimitiveKind };
    const node = named.get(fullName(json, namespace)) ?? named.get(json);
    if (node === undefined) throw new SchemaError(`undefined type name: ${json}`, { code: 'INVALID_SCHEMA' });
    return node;
  }
  if (Array.isArray(json)) {
    return { kind: 'union', branches: json.map((branch) => build(branch, namespace, named)) };
  }
  if (typeof json !== 'object' || json === null) {
    throw new SchemaError(`not a schema: ${JSON.stringify(json)}`, { code: 'INVALID_SCHEMA' });
  }
  const object = json as Record<string, unknown>;
  const type = object.type;
  if (
    typeof type !== 'string' ||
    PRIMITIVES.has(type) ||
    !['record', 'error', 'enum', 'fixed'].includes(type)
  ) {
    if (type === 'array') return { kind: 'array', items: build(object.items, namespace, named) };
    if (type === 'map') return { kind: 'map', values: build(object.values, namespace, named) };
    return build(type, namespace, named);
  }
  const ownNamespace = typeof object.namespace === 'string' ? object.namespace : namespace;
  const name = fullName(String(object.name), ownNamespace);
  const innerNamespace = namespaceOf(name);
  const aliases = Array.isArray(object.aliases)
    ? object.aliases.map((alias) => fullName(String(alias), innerNamespace))
    : [];
  if (type === 'enum') {
    const node: EnumNode = {
      kind: 'enum',
      name,
      aliases,
      symbols: (object.symbols as string[] | undefined) ?? [],
      default: typeof object.default === 'string' ? object.default : undefined,
    };
    named.set(name, node);
    return node;
  }
  if (type === 'fixed') {
    const node: FixedNode = { kind: 'fixed', name, aliases, size: Number(object.size) };
    named.set(name, node);
    return node;
  }
  // Registered before its fields are built, so fields may refer to the record itself.
  const node: RecordNode = { kind: 'record', name, aliases, fields: [] };
  named.set(name, node);
  for (const field of (object.fields as Record<string, unknown>[] | undefined) ?? []) {
    node.fields.push({
      name: String(field.name),
      aliases: Array.isArray(field.aliases) ? field.aliases.map(String) : [],
      type: build(field.type, innerNamespace, named),
      hasDefault: 'default' in field,
    });
  }
  return node;
}
