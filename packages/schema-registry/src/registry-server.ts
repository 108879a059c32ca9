import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { CompatibilityLevel } from '@omnibus/avro';
import { isCompatibilityLevel } from '@omnibus/avro';
import type { Logger } from '@omnibus/core';
import { ConfigurationError, defaultLogger } from '@omnibus/core';
import type { BasicAuthCredentials } from './basic-auth.js';
import { basicAuthorizer } from './basic-auth.js';
import { RegistryHttpError, Refusal } from './registry-http-error.js';
import type { RegistryLimits } from './registry-limits.js';
import { resolveRegistryLimits } from './registry-limits.js';
import { RegistryService } from './registry-service.js';
import { FailedLogins, assertJsonContentType, hostAllowList, isLoopbackHost } from './request-guard.js';
import { routeRequest } from './routes.js';
import type { RegistryStore } from './store.js';
import { MemoryRegistryStore } from './stores/memory-store.js';

const RESPONSE_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
/** Room for a schema at its size limit once escaped inside the JSON request body. */
const bodyLimit = (maxSchemaBytes: number): number => 2 * maxSchemaBytes + 64 * 1024;

export interface RegistryServerOptions {
  /** Port to listen on. Default 8081; 0 picks a free one (see `RunningRegistry.url`). */
  readonly port?: number;
  /**
   * Interface to listen on. Default `127.0.0.1`; `0.0.0.0` to serve other machines, which needs `auth`
   * (or `allowUnauthenticatedRemote: true`, for a registry behind a proxy that authenticates).
   */
  readonly host?: string;
  /** Serve a non-loopback interface without `auth`. Default false: such a start is refused. */
  readonly allowUnauthenticatedRemote?: boolean;
  /**
   * Host names (no ports) the `Host` header may carry, against DNS rebinding. Default: `localhost`,
   * `127.0.0.1`, `::1` and the listening address when it is a specific one; `'any'` turns the check off.
   */
  readonly allowedHosts?: readonly string[] | 'any';
  /** Serve HTTPS with this certificate and key (PEM). Default plain HTTP. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Caps on what clients can make the registry store or parse; see `RegistryLimits`. */
  readonly limits?: RegistryLimits;
  /** Time to receive a whole request. Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Time to receive a request's headers. Default 10 s. */
  readonly headersTimeoutMs?: number;
  /** Open connections at most; more are refused by the server. Default 256. */
  readonly maxConnections?: number;
  /** Where schemas live. Default a new `MemoryRegistryStore`. The caller closes a store it passes. */
  readonly store?: RegistryStore;
  /** Require HTTP basic auth with these credentials on every request. Default: no auth. */
  readonly auth?: BasicAuthCredentials;
  /** The global compatibility level until one is set through `PUT /config`. Default `BACKWARD`. */
  readonly defaultCompatibility?: CompatibilityLevel;
  readonly logger?: Logger;
}

export interface RunningRegistry {
  /** Base URL for clients, e.g. `http://127.0.0.1:8081` (`https://` with `tls`). */
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
  if (authorize === undefined && !isLoopbackHost(host) && options.allowUnauthenticatedRemote !== true) {
    throw new ConfigurationError(
      'auth',
      `serving ${host} (not loopback) without auth would open the registry to the network: set auth, or allowUnauthenticatedRemote: true behind a proxy that authenticates`,
    );
  }
  const checkHost = hostAllowList(options.allowedHosts, host);
  const limits = resolveRegistryLimits(options.limits);
  const maxBodyBytes = bodyLimit(limits.maxSchemaBytes);
  const requestTimeoutMs = positiveInt('requestTimeoutMs', options.requestTimeoutMs, 30_000);
  const headersTimeoutMs = positiveInt('headersTimeoutMs', options.headersTimeoutMs, 10_000);
  const maxConnections = positiveInt('maxConnections', options.maxConnections, 256);
  const logger = options.logger ?? defaultLogger();
  const service = new RegistryService(store, defaultCompatibility, limits);
  const failedLogins = new FailedLogins();

  const listener = (request: IncomingMessage, response: ServerResponse): void => {
    void handle(request, response).catch((error: unknown) => {
      logger.error({ error: (error as Error).message }, 'schema registry: could not answer');
      response.destroy();
    });
  };
  const serverOptions = {
    requestTimeout: requestTimeoutMs,
    headersTimeout: headersTimeoutMs,
    // How often Node checks those two timeouts (default 30 s, longer than they may be).
    connectionsCheckingInterval: Math.min(1_000, Math.ceil(headersTimeoutMs / 2)),
  };
  const server: Server =
    options.tls === undefined
      ? createServer(serverOptions, listener)
      : createTlsServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key }, listener);
  server.maxConnections = maxConnections;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let status = 200;
    let body: unknown;
    try {
      checkHost(request.headers.host);
      if (authorize !== undefined) {
        const address = request.socket.remoteAddress ?? 'unknown';
        if (!authorize(request.headers.authorization)) {
          const { failures, delayMs } = failedLogins.failed(address);
          logger.warn(
            { remoteAddress: address, failures, url: request.url },
            'schema registry: failed login',
          );
          await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
          throw Refusal.unauthorized();
        }
        failedLogins.succeeded(address);
      }
      const method = request.method ?? 'GET';
      let payload: unknown;
      if (method === 'POST' || method === 'PUT') {
        assertJsonContentType(request.headers['content-type']);
        payload = await readJson(request, maxBodyBytes);
      }
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
    if (status === 413 || status === 415) headers.connection = 'close';
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
  const url = `${options.tls === undefined ? 'http' : 'https'}://${shownHost}:${address.port}`;
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

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ConfigurationError(name, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

async function readJson(request: IncomingMessage, maxBodyBytes: number): Promise<unknown> {
  const declared = Number(request.headers['content-length']);
  if (declared > maxBodyBytes) throw Refusal.tooLarge(maxBodyBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) throw Refusal.tooLarge(maxBodyBytes);
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
