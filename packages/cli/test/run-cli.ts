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
