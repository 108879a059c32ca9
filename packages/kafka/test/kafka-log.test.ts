import { expect } from 'chai';
import type { Logger } from '@omnibus/core';
import { logLevel } from 'kafkajs';
import { kafkaLogCreator } from '../src/kafka-log.js';

describe('kafkajs logs', function () {
  function recording() {
    const entries: { level: string; message: string; fields: Record<string, unknown> }[] = [];
    const at =
      (level: string) =>
      (fields: Record<string, unknown>, message: string): void => {
        entries.push({ level, message, fields });
      };
    const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    return { logger, entries };
  }

  it('go one level down, so what kafkajs retries does not reach a default (warn) logger', function () {
    const { logger, entries } = recording();
    const log = kafkaLogCreator(logger)(logLevel.INFO);
    const entry = (level: logLevel, message: string) =>
      log({
        namespace: 'Connection',
        level,
        label: '',
        log: { timestamp: 't', logger: 'kafkajs', message, groupId: 'g' },
      });
    entry(logLevel.ERROR, 'Response Heartbeat: The group is rebalancing');
    entry(logLevel.WARN, 'Limiting retries for the idempotent producer');
    entry(logLevel.INFO, 'Consumer has joined the group');
    expect(entries.map((e) => [e.level, e.fields.kafkajsLevel])).to.deep.equal([
      ['info', 'error'],
      ['info', 'warn'],
      ['debug', 'info'],
    ]);
    expect(entries[0]!.fields).to.include({ component: 'kafkajs.Connection', groupId: 'g' });
    expect(entries[0]!.message).to.equal('Response Heartbeat: The group is rebalancing');
  });
});
