import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CompatibilityLevel } from '@omnibus/avro';
import { isCompatibilityLevel } from '@omnibus/avro';
import type { Logger } from '@omnibus/core';
import { ConfigurationError, silentLogger } from '@omnibus/core';
import type { BasicAuthCredentials } from './basic-auth.js';
import { basicAuthorizer } from './basic-auth.js';
import { RegistryHttpError, Refusal } from './registry-http-error.js';
import { RegistryService } from './registry-service.js';
import { routeRequest } from './routes.js';
import type { RegistryStore } from './store.js';
import { MemoryRegistryStore } from './stores/memory-store.js';

const RESPONSE_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface RegistryServerOptions {
  /** Port to listen on. Default 8081; 0 picks a free one (see `RunningRegistry.url`). */
  readonly port?: number;
  /** Interface to listen on. Default `127.0.0.1`; `0.0.0.0` to serve other machines. */
  readonly host?: string;
  /** Where schemas live. Default a new `MemoryRegistryStore`. The caller closes a store it passes. */
  readonly store?: RegistryStore;
  /** Require HTTP basic auth with these credentials on every request. Default: no auth. */
  readonly auth?: BasicAuthCredentials;
  /** The global compatibility level until one is set through `PUT /config`. Default `BACKWARD`. */
  readonly defaultCompatibility?: CompatibilityLevel;
  readonly logger?: Logger;
}

export interface RunningRegistry {
  /** Base URL for clients, e.g. `http://127.0.0.1:8081`. */
  readonly url: string;
  readonly port: number;
  /** Stops listening and closes idle connections; the store stays open. */
  close(): Promise<void>;
}

/**
 * Starts a schema registry speaking Confluent's REST API (`application/vnd.schemaregistry.v1+json`) on
 * node:http: in-process for tests and the demo, or as `omnibus registry serve`. Resolves once listening.
 */
export async function startRegistry(options: RegistryServerOptions = {}): Promise<RunningRegistry> {
  const port = options.port ?? 8081;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigurationError('port', `must be an integer in [0, 65535], got ${String(port)}`);
  }
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '')
    throw new ConfigurationError('host', 'must be a host name or address');
  const defaultCompatibility = options.defaultCompatibility ?? 'BACKWARD';
  if (!isCompatibilityLevel(defaultCompatibility)) {
    throw new ConfigurationError('defaultCompatibility', `unknown level ${String(defaultCompatibility)}`);
  }
  const store = options.store ?? new MemoryRegistryStore();
  if (typeof store?.addSchema !== 'function')
    throw new ConfigurationError('store', 'must implement RegistryStore');
  const authorize = options.auth === undefined ? undefined : basicAuthorizer(options.auth);
  const logger = options.logger ?? silentLogger;
  const service = new RegistryService(store, defaultCompatibility);

  const server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      logger.error({ error: (error as Error).message }, 'schema registry: could not answer');
      response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let status = 200;
    let body: unknown;
    try {
      if (authorize !== undefined && !authorize(request.headers.authorization)) throw Refusal.unauthorized();
      const method = request.method ?? 'GET';
      const payload = method === 'POST' || method === 'PUT' ? await readJson(request) : undefined;
      body = await routeRequest(service, method, request.url ?? '/', payload);
    } catch (error) {
      let refusal: RegistryHttpError;
      if (error instanceof RegistryHttpError) {
        refusal = error;
      } else {
        logger.error({ error: (error as Error).message, url: request.url }, 'schema registry: store error');
        refusal = Refusal.storeError();
      }
      status = refusal.status;
      body = refusal.toBody();
    }
    logger.debug({ method: request.method, url: request.url, status }, 'schema registry request');
    const text = JSON.stringify(body);
    const headers: Record<string, string | number> = {
      'content-type': RESPONSE_CONTENT_TYPE,
      'content-length': Buffer.byteLength(text),
    };
    if (status === 401) headers['www-authenticate'] = 'Basic realm="omnibus-schema-registry"';
    if (status === 413) headers.connection = 'close';
    response.writeHead(status, headers).end(text);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  logger.info({ url }, 'schema registry listening');
  return {
    url,
    port: address.port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw Refusal.tooLarge(MAX_BODY_BYTES);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw Refusal.badRequest(`Malformed JSON body: ${(error as Error).message}`);
  }
}
