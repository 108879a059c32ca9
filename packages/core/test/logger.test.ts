import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConfigurationError, consoleLogger, defaultLogger, silentLogger } from '../src/index.js';

const run = promisify(execFile);

/** What `body` writes to stderr, one string per write. */
function stderrOf(body: () => void): string[] {
  const written: string[] = [];
  const original = Object.getOwnPropertyDescriptor(process.stderr, 'write');
  Object.defineProperty(process.stderr, 'write', {
    configurable: true,
    value: (chunk: string) => written.push(chunk) > 0,
  });
  try {
    body();
  } finally {
    if (original === undefined) delete (process.stderr as { write?: unknown }).write;
    else Object.defineProperty(process.stderr, 'write', original);
  }
  return written;
}

describe('logger', function () {
  it('consoleLogger writes one JSON line per entry at its level and above', function () {
    const written = stderrOf(() => {
      const logger = consoleLogger('warn');
      logger.debug({}, 'not shown');
      logger.info({}, 'not shown');
      logger.warn({ messageId: 'm-1', attempt: 1 }, 'handler failed: retrying');
      logger.error({ messageId: 'm-1' }, 'dead-lettered');
    });
    expect(written).to.have.length(2);
    for (const line of written)
      expect(line.endsWith('\n') && !line.slice(0, -1).includes('\n')).to.equal(true);
    const [warn, error] = written.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(warn).to.include({ level: 'warn', msg: 'handler failed: retrying', messageId: 'm-1', attempt: 1 });
    expect(error).to.include({ level: 'error', msg: 'dead-lettered' });
    expect(Date.parse(String(warn!.time))).to.be.a('number').and.not.NaN;
  });

  it('never loses an entry to fields JSON cannot write', function () {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const written = stderrOf(() => {
      const logger = consoleLogger('warn');
      logger.warn({ error: Object.assign(new Error('boom'), { code: 'E_X' }), offset: 10n }, 'with an error');
      logger.error({ cyclic }, 'with a cycle');
    });
    const [withError, withCycle] = written.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(withError).to.deep.include({
      error: { name: 'Error', code: 'E_X', message: 'boom' },
      offset: '10',
    });
    expect(withCycle).to.include({ level: 'error', msg: 'with a cycle' });
    expect(withCycle!.fieldsNotWritten).to.be.a('string');
  });

  it('defaultLogger takes its level from OMNIBUS_LOG_LEVEL, warn when unset', function () {
    const levels = (env: NodeJS.ProcessEnv) =>
      stderrOf(() => {
        const logger = defaultLogger(env);
        logger.info({}, 'info');
        logger.warn({}, 'warn');
      }).map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(levels({})).to.deep.equal(['warn']);
    expect(levels({ OMNIBUS_LOG_LEVEL: 'info' })).to.deep.equal(['info', 'warn']);
    expect(levels({ OMNIBUS_LOG_LEVEL: 'error' })).to.deep.equal([]);
    expect(defaultLogger({ OMNIBUS_LOG_LEVEL: 'silent' })).to.equal(silentLogger);
    expect(() => defaultLogger({ OMNIBUS_LOG_LEVEL: 'loud' }))
      .to.throw(ConfigurationError)
      .with.property('field', 'OMNIBUS_LOG_LEVEL');
  });

  it('a bus given no logger writes each retry and dead letter to stderr, one line each', async function () {
    const env = { ...process.env };
    delete env.OMNIBUS_LOG_LEVEL;
    const fixture = new URL('fixtures/default-logger-bus.js', import.meta.url);
    const { stdout, stderr } = await run(process.execPath, [fixture.pathname], { env });
    expect(stdout.trim()).to.equal('2');
    const lines = stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line.level, line.msg])).to.deep.equal([
      ['warn', 'handler failed: retrying'],
      ['error', 'dead-lettered'],
    ]);
    expect(lines[0]).to.include({ type: 'payments.Charge', attempt: 1, error: 'gateway down' });
    expect(lines[1]).to.include({ type: 'payments.Charge', attempts: 2, code: 'HANDLER_ERROR' });
  });

  it('a bus run with OMNIBUS_LOG_LEVEL=silent writes nothing', async function () {
    const fixture = new URL('fixtures/default-logger-bus.js', import.meta.url);
    const { stderr } = await run(process.execPath, [fixture.pathname], {
      env: { ...process.env, OMNIBUS_LOG_LEVEL: 'silent' },
    });
    expect(stderr).to.equal('');
  });
});
