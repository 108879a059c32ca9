import type { Logger } from '@omnibus/core';
import { silentLogger } from '@omnibus/core';
import type { RegistryServerOptions, RunningRegistry } from '../src/index.js';
import { startRegistry } from '../src/index.js';

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
}

/** A registry on a free port, counting the requests it answers, with a small HTTP helper. */
export interface RegistryFixture extends RunningRegistry {
  /** Requests answered so far, as `METHOD path`. */
  readonly requests: string[];
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
}

export async function startTestRegistry(options: RegistryServerOptions = {}): Promise<RegistryFixture> {
  const requests: string[] = [];
  const logger: Logger = {
    ...silentLogger,
    debug: (fields) => {
      if (typeof fields.method === 'string') requests.push(`${fields.method} ${String(fields.url)}`);
    },
  };
  const running = await startRegistry({ port: 0, logger, ...options });
  return {
    ...running,
    requests,
    async call(method, path, body, headers = {}) {
      const response = await fetch(`${running.url}${path}`, {
        method,
        headers: {
          'content-type': 'application/vnd.schemaregistry.v1+json',
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      return {
        status: response.status,
        body: text === '' ? undefined : JSON.parse(text),
        headers: response.headers,
      };
    },
  };
}
