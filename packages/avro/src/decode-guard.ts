import { isUtf8 } from 'node:buffer';
import type avsc from 'avsc';
import { DeserializationError } from '@omnibus/core';
import type { DecodeLimits } from './decode-limits.js';

/**
 * A scan of an Avro body against its writer's schema that allocates nothing and throws a
 * `DeserializationError` when the body would cost more than the limits or is not valid Avro:
 * - a block count of more items than the bytes left can hold (every item but a zero-byte one costs at
 *   least a byte), or more than `maxItems` in the whole body (this bounds zero-byte items: `null`, empty
 *   records), code `AVRO_LIMIT_EXCEEDED` when a cap is passed, `MALFORMED_BODY` when bytes are missing;
 * - a string or bytes value longer than `maxLength` or than the bytes left;
 * - nesting deeper than `maxDepth`;
 * - a string that is not valid UTF-8 (`INVALID_UTF8`): avsc would replace the bad bytes with U+FFFD,
 *   silently changing the value, so such a body is refused;
 * - an enum or union index out of range, a varint longer than 10 bytes.
 * Its cost is linear in the body's length plus its item count, so avsc's `fromBuffer`, which trusts the
 * counts on the wire, only ever runs on bodies that passed it.
 */
export type DecodeGuard = (avro: Buffer) => void;

interface Scan {
  readonly buffer: Buffer;
  position: number;
  items: number;
  readonly limits: DecodeLimits;
}

type Check = (scan: Scan, depth: number) => void;

export function createDecodeGuard(type: avsc.Type, limits: DecodeLimits): DecodeGuard {
  const check = compile(type, new Map());
  return (avro) => {
    const scan: Scan = { buffer: avro, position: 0, items: 0, limits };
    check(scan, 0);
  };
}

function compile(type: avsc.Type, compiled: Map<avsc.Type, Check>): Check {
  const known = compiled.get(type);
  if (known !== undefined) return known;
  const typeName = type.typeName;
  if (typeName.startsWith('logical:')) {
    const check = compile((type as unknown as { underlyingType: avsc.Type }).underlyingType, compiled);
    compiled.set(type, check);
    return check;
  }
  switch (typeName) {
    case 'null':
      return () => undefined;
    case 'boolean':
      return (scan) => skip(scan, 1);
    case 'int':
    case 'long':
      return (scan) => void readLong(scan);
    case 'float':
      return (scan) => skip(scan, 4);
    case 'double':
      return (scan) => skip(scan, 8);
    case 'bytes':
      return (scan) => skip(scan, readLength(scan, 'bytes'));
    case 'string':
      return readString;
    case 'fixed': {
      const size = (type as unknown as { size: number }).size;
      return (scan) => skip(scan, size);
    }
    case 'enum': {
      const count = (type as unknown as { symbols: readonly string[] }).symbols.length;
      return (scan) => readIndex(scan, count, 'enum symbol');
    }
    case 'record':
    case 'error': {
      // Registered before its fields compile: a recursive record refers to this same check.
      const fields: Check[] = [];
      const check: Check = (scan, depth) => {
        const inner = enter(scan, depth);
        for (const field of fields) field(scan, inner);
      };
      compiled.set(type, check);
      const fieldTypes = (type as unknown as { fields: readonly { type: avsc.Type }[] }).fields;
      for (const field of fieldTypes) fields.push(compile(field.type, compiled));
      return check;
    }
    case 'array': {
      const itemsType = (type as unknown as { itemsType: avsc.Type }).itemsType;
      return collection(compiled, itemsType, undefined);
    }
    case 'map': {
      const valuesType = (type as unknown as { valuesType: avsc.Type }).valuesType;
      return collection(compiled, valuesType, readString);
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branches: Check[] = [];
      const check: Check = (scan, depth) =>
        branches[readIndex(scan, branches.length, 'union branch')]!(scan, depth);
      compiled.set(type, check);
      for (const branch of (type as unknown as { types: readonly avsc.Type[] }).types) {
        branches.push(compile(branch, compiled));
      }
      return check;
    }
    default:
      throw new Error(`no decode guard for Avro type ${typeName}`);
  }
}

/** An array (no key) or a map (a string key before each value), read block by block. */
function collection(compiled: Map<avsc.Type, Check>, itemType: avsc.Type, key: Check | undefined): Check {
  let item: Check | undefined;
  let itemBytes = -1;
  return (scan, depth) => {
    // Compiled on first use: the item type may be the record being compiled (a recursive schema).
    item ??= compile(itemType, compiled);
    if (itemBytes < 0) itemBytes = (key === undefined ? 0 : 1) + minimumBytes(itemType, new Set());
    const inner = enter(scan, depth);
    for (;;) {
      let count = readLong(scan);
      if (count === 0) return;
      if (count < 0) {
        // A negative count is followed by the block's size in bytes.
        count = -count;
        const size = readLong(scan);
        if (size < 0 || size > left(scan)) {
          throw malformed(`a block claims ${size} bytes, only ${left(scan)} left`);
        }
      }
      if (count * itemBytes > left(scan)) {
        throw malformed(
          `a block claims ${count} items of at least ${itemBytes} bytes each, only ${left(scan)} bytes left`,
        );
      }
      scan.items += count;
      if (scan.items > scan.limits.maxItems) {
        throw limitExceeded(
          `a body of more than ${scan.limits.maxItems} array items and map entries (a block claims ${count})`,
          'maxItems',
        );
      }
      for (let i = 0; i < count; i++) {
        key?.(scan, inner);
        item(scan, inner);
      }
    }
  };
}

/** The fewest bytes a value of the type can take; 0 for a type that can be empty (`null`, `{}`). */
function minimumBytes(type: avsc.Type, visiting: Set<avsc.Type>): number {
  const typeName = type.typeName;
  if (typeName.startsWith('logical:')) {
    return minimumBytes((type as unknown as { underlyingType: avsc.Type }).underlyingType, visiting);
  }
  switch (typeName) {
    case 'null':
      return 0;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return (type as unknown as { size: number }).size;
    case 'record':
    case 'error': {
      // A record reached again through itself adds nothing: its recursion passes a union, array or map.
      if (visiting.has(type)) return 0;
      visiting.add(type);
      let total = 0;
      for (const field of (type as unknown as { fields: readonly { type: avsc.Type }[] }).fields) {
        total += minimumBytes(field.type, visiting);
      }
      visiting.delete(type);
      return total;
    }
    default:
      // boolean, int, long, bytes, string, enum, array, map, union: at least one byte.
      return 1;
  }
}

function enter(scan: Scan, depth: number): number {
  if (depth >= scan.limits.maxDepth) {
    throw limitExceeded(`records, arrays and maps nested deeper than ${scan.limits.maxDepth}`, 'maxDepth');
  }
  return depth + 1;
}

function readString(scan: Scan): void {
  const length = readLength(scan, 'string');
  const start = scan.position;
  skip(scan, length);
  if (!isUtf8(scan.buffer.subarray(start, start + length))) {
    throw new DeserializationError(`a string at byte ${start} is not valid UTF-8`, { code: 'INVALID_UTF8' });
  }
}

function readLength(scan: Scan, what: string): number {
  const length = readLong(scan);
  if (length < 0) throw malformed(`a ${what} of negative length ${length}`);
  if (length > scan.limits.maxLength) {
    throw limitExceeded(`a ${what} of ${length} bytes, longer than ${scan.limits.maxLength}`, 'maxLength');
  }
  return length;
}

function readIndex(scan: Scan, count: number, what: string): number {
  const index = readLong(scan);
  if (index < 0 || index >= count) throw malformed(`${what} index ${index} out of range [0, ${count})`);
  return index;
}

/** A zig-zag varint long, as a number (exact up to 2^53, which bounds every length and count that passes). */
function readLong(scan: Scan): number {
  let value = 0;
  let factor = 1;
  for (let i = 0; i < 10; i++) {
    if (scan.position >= scan.buffer.length) throw malformed('the body ends inside a number');
    const byte = scan.buffer[scan.position++]!;
    value += (byte & 0x7f) * factor;
    if ((byte & 0x80) === 0) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    factor *= 128;
  }
  throw malformed('a varint longer than 10 bytes');
}

function skip(scan: Scan, bytes: number): void {
  if (bytes > left(scan)) throw malformed(`${bytes} bytes needed, only ${left(scan)} left`);
  scan.position += bytes;
}

function left(scan: Scan): number {
  return scan.buffer.length - scan.position;
}

function malformed(message: string): DeserializationError {
  return new DeserializationError(`not valid Avro: ${message}`, { code: 'MALFORMED_BODY' });
}

function limitExceeded(message: string, limit: keyof DecodeLimits): DeserializationError {
  return new DeserializationError(`refused before decoding: ${message} (limits.${limit})`, {
    code: 'AVRO_LIMIT_EXCEEDED',
  });
}
