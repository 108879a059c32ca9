import { ConfigurationError } from './errors.js';

/**
 * One structured logger interface, pino-compatible: `logger.info({ messageId }, 'handled')`. Pass a pino
 * instance as it is. Without one, the bus logs warnings and errors (retries, dead letters, failures to
 * settle or to resolve a handler) to stderr, one JSON line each: see `defaultLogger`. `silentLogger`
 * turns that off. Entries about a message carry `messageId`, `correlationId`, and `traceId`/`spanId`
 * while a span records its handling (see `messageLogFields`, which handlers can use for their own).
 */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const nothing = (): void => undefined;
export const silentLogger: Logger = { debug: nothing, info: nothing, warn: nothing, error: nothing };

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * A small JSON-lines logger on stderr, one line per entry at `level` and above:
 * `{"level":"warn","time":"…","msg":"handler failed: retrying","messageId":"…",…}`. An entry is never lost
 * to its fields: errors are written as their name, code and message, BigInts as strings, and fields that
 * cannot be written at all (a cycle) are replaced by a note saying so.
 */
export function consoleLogger(level: LogLevel = 'info'): Logger {
  const min = LEVELS.indexOf(level);
  const make =
    (entryLevel: LogLevel) =>
    (fields: Record<string, unknown>, message: string): void => {
      if (LEVELS.indexOf(entryLevel) < min) return;
      process.stderr.write(`${logLine(entryLevel, message, fields)}\n`);
    };
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}

/** The environment variable that sets the default logger's level: debug, info, warn, error or silent. */
const LOG_LEVEL_VARIABLE = 'OMNIBUS_LOG_LEVEL';

/**
 * The logger of a bus or relay given none: `consoleLogger('warn')`, so retries and dead letters are
 * visible from the first run. `OMNIBUS_LOG_LEVEL` changes the level (`silent` for none; the repository's
 * mocha configuration sets it, so tests print nothing); an unknown value is a `ConfigurationError`.
 */
export function defaultLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  const level = env[LOG_LEVEL_VARIABLE];
  if (level === undefined || level === '') return consoleLogger('warn');
  if (level === 'silent') return silentLogger;
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new ConfigurationError(
      LOG_LEVEL_VARIABLE,
      `must be one of ${[...LEVELS, 'silent'].join(', ')}, got ${JSON.stringify(level)}`,
    );
  }
  return consoleLogger(level as LogLevel);
}

function logLine(level: LogLevel, message: string, fields: Record<string, unknown>): string {
  const head = { level, time: new Date().toISOString(), msg: message };
  try {
    return JSON.stringify({ ...head, ...fields }, writable);
  } catch (error) {
    return JSON.stringify({
      ...head,
      fieldsNotWritten: error instanceof Error ? error.message : String(error),
    });
  }
}

function writable(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, ...(code === undefined ? {} : { code }), message: value.message };
  }
  return value;
}
