import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bus, HealthReport } from '@omnibus/core';
import { toOmnibusError } from '@omnibus/core';
import type { SampleDatabase } from './sample-database.js';

/** What `/readyz` answers: the bus's health plus whether the database answers a query. */
export interface Readiness {
  readonly ready: boolean;
  readonly bus: HealthReport;
  readonly database: 'up' | { readonly down: string };
}

/** Ready: the bus has started and its broker is up, and the database answers `SELECT 1`. */
export async function readiness(bus: Bus, db: SampleDatabase): Promise<Readiness> {
  const [health, database] = await Promise.all([
    bus.health(),
    db.query('SELECT 1 AS one').then(
      () => 'up' as const,
      (error: unknown) => ({ down: toOmnibusError(error).message }),
    ),
  ]);
  return { ready: health.status === 'up' && database === 'up', bus: health, database };
}

export interface HealthServerOptions {
  readonly host: string;
  /** 0 for any free port (two instances of a service on one machine). */
  readonly port: number;
  readonly bus: Bus;
  readonly db: SampleDatabase;
  /** Serves `/metrics` (see `startSampleTelemetry`); without it `/metrics` is 404. */
  readonly metrics?: (request: IncomingMessage, response: ServerResponse) => void;
}

/**
 * A small HTTP server for a service without an API of its own: `GET /healthz` (200 while the bus runs),
 * `GET /readyz` (200 when `readiness` says ready, else 503, with the report) and `GET /metrics`.
 */
export async function startHealthServer(
  options: HealthServerOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    void answer(options, request, response).catch((error: unknown) => {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: toOmnibusError(error).message }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function answer(
  options: HealthServerOptions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET') return send(response, 405, { error: 'only GET' });
  if (path === '/healthz') {
    const running = options.bus.state === 'started';
    return send(response, running ? 200 : 503, { status: running ? 'up' : 'down', state: options.bus.state });
  }
  if (path === '/readyz') {
    const report = await readiness(options.bus, options.db);
    return send(response, report.ready ? 200 : 503, report);
  }
  if (path === '/metrics' && options.metrics !== undefined) return options.metrics(request, response);
  return send(response, 404, { error: 'not found' });
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
