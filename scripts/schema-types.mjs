#!/usr/bin/env node
/* global process, console, URL -- a Node script; the repo's eslint config declares no Node globals for .mjs */
/**
 * `npm run schemas:types`: writes the TypeScript types of every Avro schema under schemas/ to
 * schemas/types.d.ts (types only: import them with `import type`). `--check` writes nothing and exits 1
 * when the file is stale, naming what changed; a test runs it so CI fails on stale types.
 *
 * Usage: node scripts/schema-types.mjs [--check] [--dir schemas] [--out schemas/types.d.ts]
 *
 * Avro → TypeScript, as @omnibus/avro reads and writes values (avsc, unions unwrapped):
 *   null → null; boolean → boolean; int, long, float, double → number; string → string;
 *   bytes, fixed → Buffer; enum → union of its symbols; array → T[]; map → Record<string, T>;
 *   record → interface; ["null", T] → T | null; timestamp-millis → Date; decimal → string (exact,
 *   e.g. "12.50"); uuid → string. Named types are exported under their simple name; two different
 *   types with one simple name, or a union avsc would have to wrap, are errors.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import prettier from 'prettier';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const PRIMITIVES = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bytes: 'Buffer',
  string: 'string',
};
const LOGICAL = {
  'timestamp-millis': { on: ['long'], ts: 'Date' },
  decimal: { on: ['bytes', 'fixed'], ts: 'string' },
  uuid: { on: ['string'], ts: 'string' },
};
/** avsc's union buckets: two branches in one bucket make a wrapped union. */
const BUCKETS = {
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bytes: 'buffer',
  fixed: 'buffer',
  enum: 'string',
  map: 'object',
  record: 'object',
  error: 'object',
};

class GenerationError extends Error {}

/** Generates the declarations of every schema under `dir`; returns the formatted file text. */
export async function generateTypes(dir, outPath) {
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile() && entry.name.endsWith('.avsc'))
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
  /** full name → { simple, file, key, text } */
  const declared = new Map();
  const bySimpleName = new Map();
  const chunks = [];

  for (const file of files) {
    let json;
    try {
      json = JSON.parse(await readFile(join(dir, file), 'utf8'));
    } catch (error) {
      throw new GenerationError(`${file}: not JSON: ${error.message}`);
    }
    const named = new Map();

    const fullName = (name, namespace) => (name.includes('.') || !namespace ? name : `${namespace}.${name}`);
    const namespaceOf = (name) => (name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '');
    const simpleName = (name) => name.slice(name.lastIndexOf('.') + 1);

    /** Claims a slot for a named type in declaration order; -1 when the same type is already declared. */
    const reserve = (full, key) => {
      const existing = declared.get(full);
      if (existing !== undefined) {
        if (existing.key !== key) {
          throw new GenerationError(`${full} is defined differently in ${existing.file} and ${file}`);
        }
        return -1;
      }
      const simple = simpleName(full);
      const clash = bySimpleName.get(simple);
      if (clash !== undefined && clash !== full) {
        throw new GenerationError(`${full} (${file}) and ${clash} would both be exported as ${simple}`);
      }
      bySimpleName.set(simple, full);
      declared.set(full, { file, key });
      chunks.push('');
      return chunks.length - 1;
    };

    const typeOf = (schema, namespace, where) => {
      if (typeof schema === 'string') {
        if (schema in PRIMITIVES) return PRIMITIVES[schema];
        const full = named.get(fullName(schema, namespace)) ?? named.get(schema);
        if (full === undefined) throw new GenerationError(`${file}: ${where}: unknown type ${schema}`);
        return simpleName(full);
      }
      if (Array.isArray(schema)) {
        const seen = new Map();
        for (const branch of schema) {
          const base = baseTypeName(branch, namespace);
          if (isLogical(branch)) continue;
          const bucket = BUCKETS[base] ?? base;
          if (seen.has(bucket)) {
            throw new GenerationError(
              `${file}: ${where}: union branches ${seen.get(bucket)} and ${base} are ambiguous (avsc wraps such unions); not supported`,
            );
          }
          seen.set(bucket, base);
        }
        // `T | null` reads better than `null | T`; the order of a TypeScript union means nothing.
        const branches = schema.map((branch) => typeOf(branch, namespace, where));
        return [...branches.filter((b) => b !== 'null'), ...branches.filter((b) => b === 'null')].join(' | ');
      }
      if (typeof schema !== 'object' || schema === null) {
        throw new GenerationError(`${file}: ${where}: not a schema: ${JSON.stringify(schema)}`);
      }
      const logical = LOGICAL[schema.logicalType];
      const base = typeof schema.type === 'string' ? schema.type : undefined;
      if (base === 'record' || base === 'error' || base === 'enum' || base === 'fixed') {
        const full = fullName(schema.name, schema.namespace ?? namespace);
        named.set(full, full);
        const simple = simpleName(full);
        const doc = docComment(schema.doc, '');
        const key = JSON.stringify(schema);
        const slot = reserve(full, key);
        if (base === 'enum') {
          const symbols = schema.symbols.map((symbol) => `'${symbol}'`).join(' | ');
          if (slot >= 0) chunks[slot] = `${doc}export type ${simple} = ${symbols};`;
        } else if (base === 'fixed') {
          const ts = logical !== undefined && logical.on.includes('fixed') ? logical.ts : 'Buffer';
          if (slot >= 0) chunks[slot] = `${doc}export type ${simple} = ${ts};`;
        } else {
          // Named before its fields are read, so they may refer to it; declared before its nested types.
          const inner = namespaceOf(full);
          const fields = [];
          for (const field of schema.fields) {
            const ts = typeOf(field.type, inner, `${full}.${field.name}`);
            fields.push(`${docComment(field.doc, '  ')}  ${field.name}: ${ts};`);
          }
          if (slot >= 0) chunks[slot] = `${doc}export interface ${simple} {\n${fields.join('\n')}\n}`;
        }
        return simple;
      }
      if (base === 'array') {
        const items = typeOf(schema.items, namespace, `${where}[]`);
        return /^[A-Za-z_]\w*$/.test(items) ? `${items}[]` : `Array<${items}>`;
      }
      if (base === 'map') return `Record<string, ${typeOf(schema.values, namespace, `${where}{}`)}>`;
      if (logical !== undefined && logical.on.includes(base)) return logical.ts;
      return typeOf(schema.type, namespace, where);
    };

    if (
      typeof json !== 'object' ||
      json === null ||
      !['record', 'error', 'enum', 'fixed'].includes(json.type)
    ) {
      throw new GenerationError(`${file}: the top-level schema must be a named type (record, enum, fixed)`);
    }
    typeOf(json, '', file);
  }

  const header = [
    '// Generated by `npm run schemas:types` (scripts/schema-types.mjs) from schemas/**/*.avsc. Do not edit.',
    '// Types only: `import type { OrderPlaced } from ".../schemas/types.js"`. Avro → TypeScript: timestamp-millis → Date,',
    '// decimal → string (exact, e.g. "12.50"), uuid → string, long → number, enum → union of its symbols.',
    '',
  ].join('\n');
  const text = `${header}\n${chunks.join('\n\n')}\n`;
  const options = (await prettier.resolveConfig(outPath)) ?? {};
  return prettier.format(text, { ...options, parser: 'typescript' });
}

function baseTypeName(schema, namespace) {
  if (typeof schema === 'string') return schema in PRIMITIVES ? schema : 'record';
  if (Array.isArray(schema)) return 'union';
  return typeof schema.type === 'string' ? schema.type : baseTypeName(schema.type, namespace);
}

function isLogical(schema) {
  return (
    typeof schema === 'object' && schema !== null && !Array.isArray(schema) && schema.logicalType in LOGICAL
  );
}

function docComment(doc, indent) {
  if (typeof doc !== 'string' || doc.trim() === '') return '';
  return `${indent}/** ${doc.replace(/\*\//g, '*\\/').replace(/\s*\n\s*/g, ' ')} */\n`;
}

async function main() {
  const { values } = parseArgs({
    options: {
      check: { type: 'boolean', default: false },
      dir: { type: 'string', default: join(root, 'schemas') },
      out: { type: 'string' },
    },
  });
  const dir = resolve(values.dir);
  const out = resolve(values.out ?? join(dir, 'types.d.ts'));
  let generated;
  try {
    generated = await generateTypes(dir, out);
  } catch (error) {
    if (!(error instanceof GenerationError)) throw error;
    console.error(`schema-types: ${error.message}`);
    return 2;
  }
  if (values.check) {
    const current = await readFile(out, 'utf8').catch(() => undefined);
    if (current === generated) {
      console.log(`${relative(process.cwd(), out)} is up to date`);
      return 0;
    }
    const was = (current ?? '').split('\n');
    const now = generated.split('\n');
    let line = 0;
    while (line < now.length && was[line] === now[line]) line++;
    console.error(
      `${relative(process.cwd(), out)} is stale: it does not match the schemas in ${relative(process.cwd(), dir) || '.'}; run \`npm run schemas:types\``,
    );
    console.error(
      `first difference, line ${line + 1}:\n- ${was[line] ?? '(end of file)'}\n+ ${now[line] ?? '(end of file)'}`,
    );
    return 1;
  }
  await writeFile(out, generated);
  console.log(`wrote ${relative(process.cwd(), out)}`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
