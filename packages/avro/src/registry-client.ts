import type { Backoff } from '@omnibus/core';
import { ConfigurationError, TimeoutError, exponential, retry } from '@omnibus/core';
import { positiveInteger } from '@omnibus/core/transport';
import type { CompatibilityLevel } from './compatibility.js';
import { isCompatibilityLevel } from './compatibility.js';
import { RegistryError } from './registry-error.js';
import type { SchemaRegistry, SubjectVersion } from './schema-registry.js';

export const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export interface SchemaRegistryClientOptions {
  /**
   * Base URL of the registry, e.g. `http://localhost:8081` or Apicurio's `http://host/apis/ccompat/v7`.
   * Credentials in it (`https://key:secret@host`) become the basic `auth` and are dropped from the
   * url, so no error or log message ever shows them; giving both is refused.
   */
  readonly url: string;
  /** Basic (`username`, `password`; Confluent Cloud: API key and secret) or bearer (`token`) auth. */
  readonly auth?: { readonly username: string; readonly password: string } | { readonly token: string };
  /** Deadline of one HTTP request. Default 10 s. */
  readonly timeoutMs?: number;
  /** Attempts per call when the registry is unreachable, times out or answers 5xx/429. Default 3. */
  readonly attempts?: number;
  /** Wait between attempts. Default exponential from 100 ms, full jitter, capped at 2 s. */
  readonly backoff?: Backoff;
}

export interface CompatibilityCheck {
  readonly compatible: boolean;
  /** The registry's reasons when not compatible (asked with `?verbose=true`). */
  readonly messages: readonly string[];
}

interface RequestOptions {
  readonly body?: unknown;
  readonly query?: Record<string, string>;
}

/**
 * A client of the Confluent schema registry REST API: ours (`@omnibus/schema-registry`), Confluent's,
 * Karapace, Redpanda, Apicurio's ccompat API. Schema texts by id and ids by (subject, schema) are
 * cached for the life of the client (they never change); concurrent misses share one request. Each
 * request has a deadline; failures that may pass are retried with backoff (core `retry`); everything
 * else fails at once with a `RegistryError` carrying Confluent's `error_code`.
 */
export class SchemaRegistryClient implements SchemaRegistry {
  readonly url: string;
  readonly #authorization: string | undefined;
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #backoff: Backoff;
  readonly #schemaById = new Map<number, Promise<string>>();
  readonly #idBySchema = new Map<string, Promise<number>>();
  readonly #versionBySchema = new Map<string, Promise<SubjectVersion>>();

  constructor(options: SchemaRegistryClientOptions) {
    if (options === null || typeof options !== 'object') {
      throw new ConfigurationError('options', 'must be an object');
    }
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new ConfigurationError(
        'url',
        `must be an absolute http(s) URL, got ${JSON.stringify(withoutUserinfo(String(options.url)))}`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigurationError('url', `must be http or https, got ${url.protocol}`);
    }
    let auth = options.auth;
    if (url.username !== '' || url.password !== '') {
      if (auth !== undefined) {
        throw new ConfigurationError('url', 'has credentials and so does auth: give them once, in auth');
      }
      auth = { username: decodeUserinfo(url.username), password: decodeUserinfo(url.password) };
      url.username = '';
      url.password = '';
    }
    this.url = url.href.replace(/\/+$/, '');
    this.#authorization = authorization(auth);
    positiveInteger('timeoutMs', options.timeoutMs);
    positiveInteger('attempts', options.attempts);
    if (options.backoff !== undefined && typeof options.backoff !== 'function') {
      throw new ConfigurationError('backoff', 'must be a function (attempt) => milliseconds');
    }
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#attempts = options.attempts ?? 3;
    this.#backoff = options.backoff ?? exponential({ initialMs: 100, maxMs: 2_000 });
  }

  async register(subject: string, schema: string): Promise<number> {
    return this.#cached(this.#idBySchema, `${subject}\u0000${schema}`, async () => {
      const response = await this.#request<{ id: number }>('POST', ['subjects', subject, 'versions'], {
        body: { schema },
      });
      return response.id;
    });
  }

  async lookup(subject: string, schema: string): Promise<SubjectVersion> {
    return this.#cached(this.#versionBySchema, `${subject}\u0000${schema}`, () =>
      this.#request<SubjectVersion>('POST', ['subjects', subject], { body: { schema } }),
    );
  }

  async getSchemaById(id: number): Promise<string> {
    if (!Number.isInteger(id) || id < 0) {
      throw new RegistryError(`invalid schema id ${id}`, { status: 404, errorCode: 40403, retriable: false });
    }
    return this.#cached(this.#schemaById, id, async () => {
      const response = await this.#request<{ schema: string }>('GET', ['schemas', 'ids', String(id)]);
      return response.schema;
    });
  }

  /** A version of a subject, or its latest. Not cached: `latest` moves. */
  async getVersion(subject: string, version: number | 'latest'): Promise<SubjectVersion> {
    return this.#request<SubjectVersion>('GET', ['subjects', subject, 'versions', String(version)]);
  }

  async listSubjects(): Promise<string[]> {
    return this.#request<string[]>('GET', ['subjects']);
  }

  async listVersions(subject: string): Promise<number[]> {
    return this.#request<number[]>('GET', ['subjects', subject, 'versions']);
  }

  /** Soft-deletes a subject's versions, or removes them when `permanent` (after a soft delete). */
  async deleteSubject(subject: string, options: { permanent?: boolean } = {}): Promise<number[]> {
    this.#forget(subject);
    return this.#request<number[]>('DELETE', ['subjects', subject], permanent(options));
  }

  async deleteVersion(
    subject: string,
    version: number | 'latest',
    options: { permanent?: boolean } = {},
  ): Promise<number> {
    this.#forget(subject);
    return this.#request<number>(
      'DELETE',
      ['subjects', subject, 'versions', String(version)],
      permanent(options),
    );
  }

  /** Whether `schema` may be registered under `subject`, with the registry's reasons when not. */
  async testCompatibility(
    subject: string,
    schema: string,
    version: number | 'latest' = 'latest',
  ): Promise<CompatibilityCheck> {
    const response = await this.#request<{ is_compatible: boolean; messages?: string[] }>(
      'POST',
      ['compatibility', 'subjects', subject, 'versions', String(version)],
      { body: { schema }, query: { verbose: 'true' } },
    );
    return { compatible: response.is_compatible, messages: response.messages ?? [] };
  }

  /** The compatibility level of `subject` (its own, else the global one), or the global level. */
  async getCompatibility(subject?: string): Promise<CompatibilityLevel> {
    const response = await this.#request<{ compatibilityLevel: CompatibilityLevel }>(
      'GET',
      subject === undefined ? ['config'] : ['config', subject],
      subject === undefined ? {} : { query: { defaultToGlobal: 'true' } },
    );
    return response.compatibilityLevel;
  }

  /** Sets the compatibility level of `subject`, or the global one. */
  async setCompatibility(level: CompatibilityLevel, subject?: string): Promise<CompatibilityLevel> {
    if (!isCompatibilityLevel(level)) throw new ConfigurationError('level', `unknown level ${String(level)}`);
    const response = await this.#request<{ compatibility: CompatibilityLevel }>(
      'PUT',
      subject === undefined ? ['config'] : ['config', subject],
      { body: { compatibility: level } },
    );
    return response.compatibility;
  }

  #cached<K, V>(cache: Map<K, Promise<V>>, key: K, load: () => Promise<V>): Promise<V> {
    let pending = cache.get(key);
    if (pending === undefined) {
      pending = load();
      cache.set(key, pending);
      pending.catch(() => cache.delete(key));
    }
    return pending;
  }

  #forget(subject: string): void {
    const prefix = `${subject}\u0000`;
    for (const cache of [this.#idBySchema, this.#versionBySchema] as Map<string, unknown>[]) {
      for (const key of cache.keys()) if (key.startsWith(prefix)) cache.delete(key);
    }
  }

  async #request<T>(method: string, segments: readonly string[], options: RequestOptions = {}): Promise<T> {
    let url = `${this.url}/${segments.map(encodeURIComponent).join('/')}`;
    if (options.query !== undefined) url += `?${new URLSearchParams(options.query).toString()}`;
    const headers: Record<string, string> = {
      accept: `${REGISTRY_CONTENT_TYPE}, application/vnd.schemaregistry+json; q=0.9, application/json; q=0.5`,
    };
    if (options.body !== undefined) headers['content-type'] = REGISTRY_CONTENT_TYPE;
    if (this.#authorization !== undefined) headers.authorization = this.#authorization;
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    return retry(
      async () => {
        let response: Response;
        try {
          response = await fetch(url, {
            method,
            headers,
            body,
            signal: AbortSignal.timeout(this.#timeoutMs),
          });
        } catch (error) {
          if (error instanceof DOMException && error.name === 'TimeoutError') {
            throw new TimeoutError(
              `schema registry ${method} ${url}: no answer within ${this.#timeoutMs} ms`,
              {
                cause: error,
              },
            );
          }
          throw new RegistryError(
            `schema registry ${method} ${url} unreachable: ${(error as Error).message}`,
            {
              code: 'REGISTRY_UNREACHABLE',
              cause: error,
            },
          );
        }
        const text = await response.text();
        let parsed: unknown;
        try {
          parsed = text === '' ? undefined : JSON.parse(text);
        } catch (error) {
          throw new RegistryError(
            `schema registry ${method} ${url}: ${response.status} with a body that is not JSON`,
            { status: response.status, cause: error },
          );
        }
        if (!response.ok) {
          const failure = (parsed ?? {}) as { error_code?: unknown; message?: unknown };
          const errorCode = typeof failure.error_code === 'number' ? failure.error_code : response.status;
          const message = typeof failure.message === 'string' ? failure.message : response.statusText;
          throw new RegistryError(`schema registry ${method} ${url}: ${errorCode} ${message}`, {
            status: response.status,
            errorCode,
          });
        }
        return parsed as T;
      },
      { attempts: this.#attempts, backoff: this.#backoff },
    );
  }
}

/** Text that failed to parse as a url, without whatever sits between `//` and its last `@`. */
function withoutUserinfo(text: string): string {
  return text.replace(/\/\/.*@/s, '//***@');
}

function decodeUserinfo(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ConfigurationError('url', 'has credentials that are not valid percent-encoding');
  }
}

function permanent(options: { permanent?: boolean }): RequestOptions {
  return options.permanent === true ? { query: { permanent: 'true' } } : {};
}

function authorization(auth: SchemaRegistryClientOptions['auth']): string | undefined {
  if (auth === undefined) return undefined;
  if (typeof auth !== 'object' || auth === null) throw new ConfigurationError('auth', 'must be an object');
  if ('token' in auth) {
    if (typeof auth.token !== 'string' || auth.token === '') {
      throw new ConfigurationError('auth.token', 'must be a non-empty string');
    }
    return `Bearer ${auth.token}`;
  }
  if (typeof auth.username !== 'string' || auth.username === '' || auth.username.includes(':')) {
    throw new ConfigurationError('auth.username', "must be a non-empty string without ':'");
  }
  if (typeof auth.password !== 'string') throw new ConfigurationError('auth.password', 'must be a string');
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}`;
}
