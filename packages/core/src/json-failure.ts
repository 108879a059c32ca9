import { pathStep } from './payload-path.js';

/**
 * Why `JSON.stringify` cannot write a value, and where: `payload.lines[2].price is a BigInt`. It walks
 * the value the way `JSON.stringify` does (own enumerable keys, `toJSON` first), and runs only after
 * `JSON.stringify` has failed, so a payload that serialises costs nothing extra.
 */
export function describeJsonFailure(value: unknown): string | undefined {
  try {
    return walk(value, 'payload', '', []);
  } catch {
    return undefined; // nested too deeply to walk; the caller keeps JSON.stringify's own message
  }
}

interface Ancestor {
  readonly value: object;
  readonly path: string;
}

function walk(input: unknown, path: string, key: string, ancestors: Ancestor[]): string | undefined {
  let value = input;
  if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      try {
        value = toJSON.call(value, key);
      } catch (error) {
        return `${path}.toJSON() threw: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
  }
  if (typeof value === 'bigint' || value instanceof BigInt) return `${path} is a BigInt`;
  if (ancestors.length === 0) {
    // Inside an object these are left out and inside an array written as null; only at the top is
    // there nothing to write at all.
    if (value === undefined) return `${path} is undefined`;
    if (typeof value === 'function') return `${path} is a function`;
    if (typeof value === 'symbol') return `${path} is a symbol`;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const seen = ancestors.find((ancestor) => ancestor.value === value);
  if (seen !== undefined) return `${path} refers back to ${seen.path} (a cycle)`;
  ancestors.push({ value, path });
  try {
    if (Array.isArray(value)) {
      for (let index = 0; index < value.length; index++) {
        const reason = walk(value[index], `${path}${pathStep(index)}`, String(index), ancestors);
        if (reason !== undefined) return reason;
      }
      return undefined;
    }
    for (const name of Object.keys(value)) {
      const reason = walk(
        (value as Record<string, unknown>)[name],
        `${path}${pathStep(name)}`,
        name,
        ancestors,
      );
      if (reason !== undefined) return reason;
    }
    return undefined;
  } finally {
    ancestors.pop();
  }
}
