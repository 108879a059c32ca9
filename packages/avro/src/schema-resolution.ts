import type { FieldNode, RecordNode, SchemaNode } from './schema-graph.js';

/** The rule an incompatibility breaks; the names Apache Avro's own checker (and so Confluent's) uses. */
export type IncompatibilityType =
  | 'NAME_MISMATCH'
  | 'FIXED_SIZE_MISMATCH'
  | 'MISSING_ENUM_SYMBOLS'
  | 'READER_FIELD_MISSING_DEFAULT_VALUE'
  | 'TYPE_MISMATCH'
  | 'MISSING_UNION_BRANCH';

/** Why data written with one schema cannot be read with another. */
export interface Incompatibility {
  readonly type: IncompatibilityType;
  /** Where, in the reader's terms: `orders.OrderPlaced.lines[].unitPrice`. */
  readonly path: string;
  /** What is wrong and which rule it breaks, in words. */
  readonly message: string;
}

/** Writer type → reader types that read it (Avro specification, "Schema Resolution"). */
const PROMOTIONS: Record<string, readonly string[]> = {
  int: ['long', 'float', 'double'],
  long: ['float', 'double'],
  float: ['double'],
  string: ['bytes'],
  bytes: ['string'],
};

/**
 * Whether data written with `writer` can be read with `reader`, by the Avro schema resolution rules:
 * the empty list when it can, else every reason it cannot. Named types match by unqualified name or
 * by a reader alias of the writer's full name (as Apache Avro's checker does); logical types are
 * checked through their underlying types.
 */
export function resolutionIncompatibilities(reader: SchemaNode, writer: SchemaNode): Incompatibility[] {
  const out: Incompatibility[] = [];
  check(reader, writer, [rootLabel(reader)], out, new Set());
  return out;
}

function rootLabel(node: SchemaNode): string {
  return 'name' in node ? node.name : describe(node);
}

function describe(node: SchemaNode): string {
  switch (node.kind) {
    case 'record':
    case 'enum':
    case 'fixed':
      return `${node.kind} ${node.name}`;
    case 'array':
      return `array of ${describe(node.items)}`;
    case 'map':
      return `map of ${describe(node.values)}`;
    case 'union':
      return `union [${node.branches.map(describe).join(', ')}]`;
    default:
      return node.kind;
  }
}

function simpleName(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

function namesMatch(reader: { name: string; aliases: readonly string[] }, writer: { name: string }): boolean {
  return simpleName(reader.name) === simpleName(writer.name) || reader.aliases.includes(writer.name);
}

function check(
  reader: SchemaNode,
  writer: SchemaNode,
  path: string[],
  out: Incompatibility[],
  inProgress: Set<string>,
): void {
  const at = path.join('');
  if (writer.kind === 'union') {
    // Any branch may have been written: each must be readable.
    for (const branch of writer.branches) {
      if (reader.kind === 'union') {
        checkAgainstReaderUnion(reader.branches, branch, path, out, inProgress, reader);
      } else {
        const found: Incompatibility[] = [];
        check(reader, branch, path, found, inProgress);
        if (found.length > 0) {
          out.push({
            type: 'MISSING_UNION_BRANCH',
            path: at,
            message: `the writer's union branch ${describe(branch)} cannot be read as ${describe(reader)} (rule: every branch of a writer's union must be readable by the reader)`,
          });
        }
      }
    }
    return;
  }
  if (reader.kind === 'union') {
    checkAgainstReaderUnion(reader.branches, writer, path, out, inProgress, reader);
    return;
  }
  if (reader.kind !== writer.kind) {
    if (!PROMOTIONS[writer.kind]?.includes(reader.kind)) {
      out.push({
        type: 'TYPE_MISMATCH',
        path: at,
        message: `the writer's ${describe(writer)} cannot be read as ${describe(reader)} (rule: types must match or promote: int→long→float→double, string↔bytes)`,
      });
    }
    return;
  }
  switch (reader.kind) {
    case 'array':
      check(reader.items, (writer as typeof reader).items, [...path, '[]'], out, inProgress);
      return;
    case 'map':
      check(reader.values, (writer as typeof reader).values, [...path, '{}'], out, inProgress);
      return;
    case 'fixed': {
      const w = writer as typeof reader;
      if (!namesMatch(reader, w)) out.push(nameMismatch(reader, w, at));
      else if (reader.size !== w.size) {
        out.push({
          type: 'FIXED_SIZE_MISMATCH',
          path: at,
          message: `the writer's ${describe(w)} has ${w.size} bytes, the reader's ${reader.size} (rule: fixed sizes must be equal)`,
        });
      }
      return;
    }
    case 'enum': {
      const w = writer as typeof reader;
      if (!namesMatch(reader, w)) {
        out.push(nameMismatch(reader, w, at));
        return;
      }
      const missing = w.symbols.filter((symbol) => !reader.symbols.includes(symbol));
      if (missing.length > 0 && reader.default === undefined) {
        out.push({
          type: 'MISSING_ENUM_SYMBOLS',
          path: at,
          message: `the writer's ${describe(w)} has symbols [${missing.join(', ')}] that the reader's enum lacks, and the reader's enum has no default (rule: a reader enum must have every writer symbol, or a default)`,
        });
      }
      return;
    }
    case 'record':
      checkRecord(reader, writer as RecordNode, path, out, inProgress);
      return;
    default:
      return; // the same primitive
  }
}

function checkAgainstReaderUnion(
  branches: readonly SchemaNode[],
  writer: SchemaNode,
  path: string[],
  out: Incompatibility[],
  inProgress: Set<string>,
  reader: SchemaNode,
): void {
  // The first branch of the same kind is the one Avro picks; else any branch the writer promotes to.
  const candidates = [
    ...branches.filter((b) => b.kind === writer.kind && (!('name' in b) || namesMatch(b, writer as never))),
    ...branches.filter((b) => b.kind !== writer.kind),
  ];
  for (const branch of candidates) {
    const found: Incompatibility[] = [];
    check(branch, writer, path, found, inProgress);
    if (found.length === 0) return;
    if (branch.kind === writer.kind) {
      // The matching branch exists but differs inside: report why, which says more than "no branch".
      out.push(...found);
      return;
    }
  }
  out.push({
    type: 'MISSING_UNION_BRANCH',
    path: path.join(''),
    message: `the writer's ${describe(writer)} matches no branch of the reader's ${describe(reader)} (rule: a reader union must have a branch for every writer type)`,
  });
}

function checkRecord(
  reader: RecordNode,
  writer: RecordNode,
  path: string[],
  out: Incompatibility[],
  inProgress: Set<string>,
): void {
  const at = path.join('');
  if (!namesMatch(reader, writer)) {
    out.push(nameMismatch(reader, writer, at));
    return;
  }
  const key = `${reader.name}\u0000${writer.name}`;
  if (inProgress.has(key)) return; // a recursive reference: checked by the enclosing call
  inProgress.add(key);
  for (const field of reader.fields) {
    const written = writerField(writer, field);
    if (written === undefined) {
      if (!field.hasDefault) {
        out.push({
          type: 'READER_FIELD_MISSING_DEFAULT_VALUE',
          path: `${at}.${field.name}`,
          message: `field '${field.name}' of ${reader.name} is missing from the writer's schema and has no default in the reader's (rule: a reader field absent from the writer needs a default)`,
        });
      }
      continue;
    }
    check(field.type, written.type, [...path, `.${field.name}`], out, inProgress);
  }
  inProgress.delete(key);
}

function writerField(writer: RecordNode, field: FieldNode): FieldNode | undefined {
  return (
    writer.fields.find((w) => w.name === field.name) ??
    writer.fields.find((w) => field.aliases.includes(w.name))
  );
}

function nameMismatch(
  reader: { name: string; kind: string },
  writer: { name: string; kind: string },
  at: string,
): Incompatibility {
  return {
    type: 'NAME_MISMATCH',
    path: at,
    message: `the writer's ${writer.kind} ${writer.name} cannot be read as ${reader.kind} ${reader.name} (rule: named types must have the same name, or the reader must list the writer's name among its aliases)`,
  };
}
