import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const kit = fileURLToPath(new URL('../src/index.js', import.meta.url));

/** Runs a script in a child process (pino writes to file descriptor 2) and returns its stderr lines. */
function stderrOf(script: string): Record<string, unknown>[] {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(result.status, result.stderr).to.equal(0);
  return result.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('pinoLogger', function () {
  this.timeout(30_000);

  it('writes JSON lines with the service, and the active span’s trace and span ids inside a span', function () {
    const lines = stderrOf(`
      import { context, trace } from '@opentelemetry/api';
      import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
      import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
      const { pinoLogger } = await import(${JSON.stringify(kit)});
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      const logger = pinoLogger('inventory-service', 'info');
      logger.info({ sku: 'widget' }, 'outside');
      const tracer = new BasicTracerProvider().getTracer('test');
      tracer.startActiveSpan('request', (span) => {
        logger.warn({ sku: 'gadget' }, 'inside');
        console.error(JSON.stringify({ expected: span.spanContext() }));
        span.end();
      });
      logger.debug({}, 'below the level');
    `);
    const outside = lines.find((line) => line.msg === 'outside')!;
    const inside = lines.find((line) => line.msg === 'inside')!;
    const { expected } = lines.find((line) => line.expected !== undefined) as {
      expected: { traceId: string; spanId: string };
    };
    expect(outside).to.include({ service: 'inventory-service', sku: 'widget' });
    expect(outside).to.not.have.property('traceId');
    expect(inside).to.include({ sku: 'gadget', traceId: expected.traceId, spanId: expected.spanId });
    expect(lines.some((line) => line.msg === 'below the level')).to.equal(false);
  });
});
