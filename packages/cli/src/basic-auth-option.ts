import { readFileSync } from 'node:fs';
import { UsageError } from './command.js';

/** The options that carry basic-auth credentials: on the command line (visible in `ps`) or in a file. */
export const basicAuthOptions = {
  'basic-auth': { type: 'string' },
  'basic-auth-file': { type: 'string' },
} as const;

export function basicAuthHelp(envName: string): string[] {
  return [
    `--basic-auth-file <path>  basic auth as user:password, read from a file (or $${envName})`,
    '--basic-auth <user:pass>  the same on the command line (other local users can read it in ps)',
  ];
}

/**
 * The credentials from `--basic-auth-file`, `--basic-auth` or the environment variable, in that
 * order of precedence; undefined when none is given. More than one option is a usage error, and so is
 * a value that is not `user:password`; the file's trailing newline is ignored.
 */
export function readBasicAuth(
  values: Readonly<Record<string, string | boolean | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
  envName: string,
): { username: string; password: string } | undefined {
  const file = values['basic-auth-file'];
  const inline = values['basic-auth'];
  if (file !== undefined && inline !== undefined) {
    throw new UsageError('give --basic-auth or --basic-auth-file, not both');
  }
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(String(file), 'utf8');
    } catch (error) {
      throw new UsageError(`--basic-auth-file: cannot read ${String(file)}: ${(error as Error).message}`);
    }
    return parseBasicAuth(text.replace(/\r?\n$/, ''), '--basic-auth-file');
  }
  if (inline !== undefined) return parseBasicAuth(String(inline), '--basic-auth');
  const fromEnv = env[envName];
  return fromEnv === undefined || fromEnv === '' ? undefined : parseBasicAuth(fromEnv, envName);
}

function parseBasicAuth(text: string, source: string): { username: string; password: string } {
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) throw new UsageError(`${source} must be user:password`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
