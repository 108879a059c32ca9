import type { Contract } from './contracts.js';
import type { ContractIssue } from './errors.js';
import { ContractViolationError } from './errors.js';
import { pathStep } from './payload-path.js';
import type { Serializer } from './serializer.js';
import type { StandardIssue, StandardResult } from './standard-schema.js';

/** Issues named in the error message; the rest are counted, so a dead letter's headers stay small. */
const ISSUES_IN_MESSAGE = 10;

/**
 * Encodes an outgoing payload after its contract's `validate` schema accepts it: what is written is the
 * value the schema returns (a schema that strips unknown keys strips them before they travel). A
 * rejected payload is a `ContractViolationError` and nothing is encoded. Synchronous when the schema and
 * the serializer are, so the bus's publish path stays free of extra promises.
 */
export function encodeValidated(
  serializer: Serializer,
  contract: Contract,
  payload: unknown,
): Uint8Array | Promise<Uint8Array> {
  const schema = contract.validate;
  if (schema === undefined) return serializer.encode(payload, contract);
  const result = schema['~standard'].validate(payload);
  if (result instanceof Promise) {
    return result.then((settled) => serializer.encode(accepted(contract, settled), contract));
  }
  return serializer.encode(accepted(contract, result), contract);
}

/**
 * Decodes an incoming body and checks it against the contract's `validate` schema; the handler gets the
 * value the schema returns. A rejected payload is a `ContractViolationError`, which is not retriable: the
 * bus dead-letters the message at once with the issues as the reason.
 */
export function decodeValidated(serializer: Serializer, contract: Contract, body: Uint8Array): unknown {
  const decoded = serializer.decode(body, contract);
  if (contract.validate === undefined) return decoded;
  if (decoded instanceof Promise) return decoded.then((payload: unknown) => validated(contract, payload));
  return validated(contract, decoded);
}

function validated(contract: Contract, payload: unknown): unknown {
  const result = contract.validate!['~standard'].validate(payload);
  if (result instanceof Promise) return result.then((settled) => accepted(contract, settled));
  return accepted(contract, result);
}

function accepted(contract: Contract, result: StandardResult<unknown>): unknown {
  if (result.issues === undefined) return result.value;
  const issues = result.issues.map(toContractIssue);
  const listed = issues.slice(0, ISSUES_IN_MESSAGE).map((issue) => `${issue.path}: ${issue.message}`);
  if (issues.length > ISSUES_IN_MESSAGE) listed.push(`and ${issues.length - ISSUES_IN_MESSAGE} more`);
  throw new ContractViolationError(
    `${contract.type}: payload does not match its contract: ${listed.join('; ')}`,
    issues,
  );
}

function toContractIssue(issue: StandardIssue): ContractIssue {
  let path = 'payload';
  for (const segment of issue.path ?? []) {
    path += pathStep(typeof segment === 'object' ? segment.key : segment);
  }
  return { path, message: issue.message };
}
