import { UsageError } from './command.js';

/** `--basic-auth user:password` → credentials; undefined when the option is absent. */
export function parseBasicAuth(
  value: string | boolean | undefined,
): { username: string; password: string } | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) {
    throw new UsageError('--basic-auth must be user:password');
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
