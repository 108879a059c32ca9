import { pathToFileURL } from 'node:url';
import type { Contract } from '@omnibus/core';
import { ConfigurationError, isContract } from '@omnibus/core';

/**
 * The application's contracts by message type, from the module the configuration's `contracts` names:
 * every export that is a contract, and the contracts among a default export's values.
 */
export async function loadAppContracts(module: string): Promise<ReadonlyMap<string, Contract>> {
  let exported: Record<string, unknown>;
  try {
    exported = (await import(pathToFileURL(module).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigurationError('contracts', `cannot import ${module}: ${(error as Error).message}`);
  }
  const found = new Map<string, Contract>();
  const defaults = exported.default;
  const candidates: unknown[] = Object.values(exported);
  if (typeof defaults === 'object' && defaults !== null)
    candidates.push(...(Object.values(defaults) as unknown[]));
  for (const value of candidates) if (isContract(value)) found.set(value.type, value);
  if (found.size === 0) throw new ConfigurationError('contracts', `${module} exports no contracts`);
  return found;
}

/**
 * `value` as `contract.validate` accepts it (the value the schema returns), or an error listing each
 * refused field (`payload.quantity: must be positive`); `value` itself when the contract has no schema.
 */
export async function checkAgainstContract(
  contract: Contract,
  value: unknown,
): Promise<{ readonly value: unknown } | { readonly refused: string }> {
  if (contract.validate === undefined) return { value };
  const result = await contract.validate['~standard'].validate(value);
  if (result.issues === undefined) return { value: result.value };
  const listed = result.issues.map((issue) => {
    let path = 'payload';
    for (const segment of issue.path ?? []) {
      const key = typeof segment === 'object' ? segment.key : segment;
      path += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
    }
    return `${path}: ${issue.message}`;
  });
  return { refused: `${contract.type} does not accept the edit: ${listed.join('; ')}` };
}
