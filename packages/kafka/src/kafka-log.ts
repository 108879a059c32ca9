import type { Logger } from '@omnibus/core';
import type { logCreator, LogEntry } from 'kafkajs';
import { logLevel } from 'kafkajs';

/**
 * Routes kafkajs's own logs to our logger, one level down. kafkajs logs at `error` what it then retries
 * (a heartbeat answered "rebalancing", a metadata request sent to a former leader) and at `warn` settings
 * we chose on purpose (limited retries of the idempotent producer): routine for an application, so both
 * become `info`, and its `info` (group joins, pauses) becomes `debug`. What kafkajs gives up on reaches the
 * transport as an error, which the transport reports itself (a failed publish, a consumer crash). Its
 * `debug` level is never produced (it logs every request).
 */
const LEVEL_NAMES: Partial<Record<number, string>> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function kafkaLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _timestamp, logger: _name, ...fields } = log;
      const entry = {
        component: `kafkajs.${namespace}`,
        kafkajsLevel: LEVEL_NAMES[level] ?? level,
        ...fields,
      };
      if (level === logLevel.ERROR || level === logLevel.WARN) logger.info(entry, message);
      else logger.debug(entry, message);
    };
}

/** The level kafkajs is told to log at: everything up to `info`. */
export const KAFKAJS_LOG_LEVEL = logLevel.INFO;
