import type { CommandIo } from '../src/index.js';
import { run } from '../src/index.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `omnibus` in-process with captured output. */
export async function cli(
  argv: readonly string[],
  options: {
    env?: Record<string, string>;
    signal?: AbortSignal;
    onStdout?: (line: string) => void;
    onStderr?: (line: string) => void;
  } = {},
): Promise<CliResult> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io: CommandIo = {
    stdout: (line) => {
      stdout.push(line);
      options.onStdout?.(line);
    },
    stderr: (line) => {
      stderr.push(line);
      options.onStderr?.(line);
    },
    signal: options.signal ?? new AbortController().signal,
    env: options.env ?? {},
  };
  const code = await run(argv, io);
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

/**
 * `stderr` without Node's own "SQLite is an experimental feature" warning, which Node 22 prints (its two
 * lines) whenever `node:sqlite` loads and Node 24 does not; anything else stays.
 */
export function withoutSqliteWarning(stderr: string): string {
  return stderr
    .replace(/^\(node:\d+\) ExperimentalWarning: SQLite is an experimental feature[^\n]*\n?/m, '')
    .replace(/^\(Use `node --trace-warnings \.\.\.` to show where the warning was created\)\n?/m, '')
    .trim();
}
