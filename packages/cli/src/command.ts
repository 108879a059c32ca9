import type { ParseArgsOptionsConfig } from 'node:util';

/** What a command reads and writes: injected, so tests run commands in-process. */
export interface CommandIo {
  /** Writes one line of output. */
  readonly stdout: (line: string) => void;
  /** Writes one line of diagnostics. */
  readonly stderr: (line: string) => void;
  /** Aborted when the process is asked to stop (SIGINT, SIGTERM): long-running commands end then. */
  readonly signal: AbortSignal;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export type OptionValues = Readonly<Record<string, string | boolean | undefined>>;

/** One command, `omnibus <group> <name> [--options]`. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Options, in `node:util` `parseArgs` form; `--help` is added for every command. */
  readonly options: ParseArgsOptionsConfig;
  /** One line per option, for `--help`. */
  readonly optionHelp: readonly string[];
  /** Runs the command; resolves with the process exit code. */
  run(options: OptionValues, io: CommandIo): Promise<number>;
}

/** The commands under one word: `db`, `registry`, `schemas`. */
export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly Command[];
}

/** Wrong usage (unknown option, bad value): the CLI prints it with the command's help and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** The command found nothing to act on (no such dead letter, no match): nothing changed. */
export const EXIT_NOTHING = 3;
