/**
 * One structured logger interface, pino-compatible: `logger.info({ messageId }, 'handled')`. Pass a pino
 * instance as it is. The default is silent, so tests and libraries print nothing unasked.
 */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

const nothing = (): void => undefined;
export const silentLogger: Logger = { debug: nothing, info: nothing, warn: nothing, error: nothing };

/** A small JSON-lines logger for scripts and the demo, when pino is more than is wanted. */
export function consoleLogger(level: 'debug' | 'info' | 'warn' | 'error' = 'info'): Logger {
  const order = ['debug', 'info', 'warn', 'error'] as const;
  const min = order.indexOf(level);
  const make =
    (lvl: (typeof order)[number]) =>
    (fields: Record<string, unknown>, message: string): void => {
      if (order.indexOf(lvl) < min) return;
      process.stderr.write(
        `${JSON.stringify({ level: lvl, time: new Date().toISOString(), msg: message, ...fields })}\n`,
      );
    };
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}
