import type { Logger } from '@omnibus/core';
import type { logCreator, LogEntry } from 'kafkajs';
import { logLevel } from 'kafkajs';

/**
 * Routes kafkajs's own logs to our logger. kafkajs's `info` (group joins, pauses) is routine for an
 * application, so it becomes `debug`; its `debug` level is never produced (it logs every request).
 */
export function kafkaLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _timestamp, logger: _name, ...fields } = log;
      const entry = { component: `kafkajs.${namespace}`, ...fields };
      if (level === logLevel.ERROR) logger.error(entry, message);
      else if (level === logLevel.WARN) logger.warn(entry, message);
      else logger.debug(entry, message);
    };
}

/** The level kafkajs is told to log at: everything up to `info`. */
export const KAFKAJS_LOG_LEVEL = logLevel.INFO;
