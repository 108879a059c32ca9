import { expect } from 'chai';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@omnibus/core/testing';
import { ServiceProcess } from '../src/service-process.js';

/** An OTLP/HTTP collector stand-in: counts what each path receives. */
async function collector(): Promise<{ url: string; received: Map<string, number>; close(): Promise<void> }> {
  const received = new Map<string, number>();
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      received.set(request.url ?? '', (received.get(request.url ?? '') ?? 0) + 1);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the sample services: OpenTelemetry SDK, /metrics, /healthz, /readyz', function () {
  this.timeout(90_000);
  let dir: string;
  let otlp: Awaited<ReturnType<typeof collector>>;
  const processes: ServiceProcess[] = [];

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'omnibus-service-telemetry-'));
    otlp = await collector();
  });
  afterEach(async function () {
    await Promise.all(processes.splice(0).map((p) => p.stop()));
    await otlp.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function start(service: 'order-service' | 'inventory-service', env: Record<string, string> = {}) {
    const started = await ServiceProcess.start(service, service, {
      OMNIBUS_TRANSPORT: 'memory',
      OMNIBUS_SQLITE_PATH: join(dir, `${service}.db`),
      OMNIBUS_LOG_LEVEL: 'silent',
      PORT: '0',
      ...env,
    });
    processes.push(started);
    return started.ready!.url!;
  }

  it('serves /healthz, /readyz and Prometheus /metrics on a service without an API of its own', async function () {
    const url = await start('inventory-service');
    expect((await fetch(`${url}/healthz`)).status).to.equal(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).to.equal(200);
    expect(await ready.json()).to.deep.include({ ready: true, database: 'up' });
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).to.equal(200);
    const text = await metrics.text();
    expect(text).to.match(/^omnibus_outbox_backlog\{[^}]*\} 0$/m);
    expect((await fetch(`${url}/nope`)).status).to.equal(404);
  });

  it('exports spans and metrics over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, and serves /metrics from Fastify', async function () {
    const url = await start('order-service', {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_METRIC_EXPORT_INTERVAL: '200',
    });
    const placed = await fetch(`${url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: 'alice', lines: [{ sku: 'widget', quantity: 1 }] }),
    });
    expect(placed.status).to.equal(202);
    await waitFor(
      () => (otlp.received.get('/v1/traces') ?? 0) > 0 && (otlp.received.get('/v1/metrics') ?? 0) > 0,
      {
        timeoutMs: 20_000,
        message: 'OTLP traces and metrics',
      },
    );
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).to.match(/^messaging_client_sent_messages(_total)?\{[^}]*\} [1-9]/m);
    expect((await fetch(`${url}/readyz`)).status).to.equal(200);
  });
});
