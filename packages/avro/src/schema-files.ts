import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { SchemaError } from '@omnibus/core';

/** Every `.avsc` file under `dir`, as sorted paths relative to it with `/` separators. */
export async function listSchemaFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.avsc'))
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/**
 * The text of the schema file `path` (as a contract names it, e.g. `orders/OrderPlaced.avsc`) under
 * `dir`. A path that leaves `dir` or a missing file is a `SchemaError` (`SCHEMA_FILE_NOT_FOUND`).
 */
export async function readSchemaFile(dir: string, path: string): Promise<string> {
  const normalized = normalize(path);
  if (isAbsolute(normalized) || normalized.startsWith('..')) {
    throw new SchemaError(`schema path ${JSON.stringify(path)} must be relative to the schemas directory`, {
      code: 'SCHEMA_FILE_NOT_FOUND',
    });
  }
  try {
    return await readFile(join(dir, normalized), 'utf8');
  } catch (error) {
    throw new SchemaError(`schema file ${path} not found under ${dir}`, {
      code: 'SCHEMA_FILE_NOT_FOUND',
      cause: error,
    });
  }
}
