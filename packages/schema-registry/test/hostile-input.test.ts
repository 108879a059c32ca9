import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '@omnibus/core';
import { ConfigurationError, isOmnibusError, silentLogger } from '@omnibus/core';
import { waitFor } from '@omnibus/core/testing';
import { SqliteRegistryStore, startRegistry } from '../src/index.js';
import { failedLoginDelayMs } from '../src/request-guard.js';
import type { RegistryFixture, Reply } from './registry-fixture.js';
import { startTestRegistry } from './registry-fixture.js';

const run = promisify(execFile);

/** fetch cannot set `Host`; node:http can. */
function callWithHost(
  port: number,
  method: string,
  path: string,
  host: string,
  body?: unknown,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      { port, host: '127.0.0.1', method, path, headers: { host, 'content-type': 'application/json' } },
      (response) => {
        let data = '';
        response.on('data', (chunk: Buffer) => (data += chunk.toString()));
        response.on('end', () =>
          resolve({
            status: response.statusCode!,
            body: data === '' ? undefined : JSON.parse(data),
            headers: new Headers(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}
const schema = (name: string) =>
  JSON.stringify({ type: 'record', name, fields: [{ name: 'a', type: 'int' }] });

function expectError(reply: Reply, status: number, errorCode: number): void {
  expect(reply.status, JSON.stringify(reply.body)).to.equal(status);
  expect(reply.body).to.have.property('error_code', errorCode);
}

/** `depth` nested arrays of int: valid Avro, and as deep as asked. */
function deepSchema(depth: number): string {
  let text = '"int"';
  for (let i = 0; i < depth; i += 1) text = `{"type":"array","items":${text}}`;
  return text;
}

describe('schema registry: hostile requests', () => {
  let registry: RegistryFixture | undefined;
  afterEach(async () => {
    await registry?.close();
    registry = undefined;
  });

  const register = (subject: string, text: string, headers?: Record<string, string>) =>
    registry!.call('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema: text }, headers);

  it('accepts JSON content types only: a web page cannot register with text/plain (415)', async () => {
    registry = await startTestRegistry();
    for (const contentType of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      '',
    ]) {
      expectError(await register('s', schema('A'), { 'content-type': contentType }), 415, 415);
    }
    expect((await registry.call('GET', '/subjects')).body).to.deep.equal([]);
    expect(
      (await register('s', schema('A'), { 'content-type': 'application/json; charset=utf-8' })).status,
    ).to.equal(200);
    expect((await register('s', schema('A'))).status).to.equal(200);
  });

  it('checks Host against an allow-list, loopback names and IP literals by default (DNS rebinding)', async () => {
    registry = await startTestRegistry();
    const get = (host: string) => callWithHost(registry!.port, 'GET', '/subjects', host);
    expectError(await get('evil.example'), 403, 40301);
    const posted = await callWithHost(registry.port, 'POST', '/subjects/s/versions', 'evil.example:8081', {
      schema: schema('A'),
    });
    expectError(posted, 403, 40301);
    expect((await registry.call('GET', '/subjects')).body).to.deep.equal([]);
    for (const host of [
      'localhost',
      `localhost:${registry.port}`,
      '127.0.0.1',
      '[::1]:8081',
      '10.1.2.3:8081',
    ]) {
      expect((await get(host)).status, host).to.equal(200);
    }
    await registry.close();
    registry = await startTestRegistry({ allowedHosts: ['registry.internal'] });
    expect((await get('Registry.Internal:8081')).status).to.equal(200);
    expectError(await get('other.internal'), 403, 40301);
    await registry.close();
    registry = await startTestRegistry({ allowedHosts: 'any' });
    expect((await get('anything')).status).to.equal(200);
    await expectRefusedOption({ allowedHosts: [] }, 'allowedHosts');
  });

  it('caps schema size and nesting depth before parsing, the same every time', async () => {
    registry = await startTestRegistry({ limits: { maxSchemaBytes: 2_000 } });
    const big = JSON.stringify({
      type: 'record',
      name: 'Big',
      doc: 'x'.repeat(3_000),
      fields: [{ name: 'a', type: 'int' }],
    });
    expectError(await register('s', big), 422, 42201);
    expect((await register('s', deepSchema(60))).status).to.equal(200);
    await registry.close();
    registry = await startTestRegistry();
    // Deep enough to overflow a recursive parser: refused for its depth, identically on every try.
    for (let i = 0; i < 2; i += 1) {
      const refused = await register('d', deepSchema(20_000));
      expectError(refused, 422, 42201);
      expect((refused.body as { message: string }).message).to.contain('deeper than 64 levels');
    }
    expect((await registry.call('GET', '/subjects')).body).to.deep.equal([]);
  });

  it('refuses a body over the limit by its declared length (413)', async () => {
    registry = await startTestRegistry({ limits: { maxSchemaBytes: 1_000 } });
    const reply = await register('s', 'x'.repeat(100_000));
    expectError(reply, 413, 413);
  });

  it('has quotas: subject name length, subjects, versions per subject, schemas', async () => {
    registry = await startTestRegistry({
      limits: { maxSubjectLength: 20, maxSubjects: 2, maxVersionsPerSubject: 2, maxSchemas: 3 },
    });
    await registry.call('PUT', '/config', { compatibility: 'NONE' });
    expectError(await register('s'.repeat(21), schema('A')), 422, 42210);
    expect((await register('a', schema('A'))).status).to.equal(200);
    expect((await register('a', schema('B'))).status).to.equal(200);
    expectError(await register('a', schema('C')), 422, 42210); // a third version of `a`
    expect((await register('b', schema('C'))).status).to.equal(200);
    expectError(await register('c', schema('A')), 422, 42210); // a third subject
    expectError(await register('b', schema('D')), 422, 42210); // a fourth schema
    // What is already there stays readable and idempotent.
    expect((await register('a', schema('A'))).body).to.deep.equal({ id: 1 });
    expect((await registry.call('GET', '/subjects')).body).to.deep.equal(['a', 'b']);
    await expectRefusedOption({ limits: { maxSchemas: 0 } }, 'limits.maxSchemas');
    await expectRefusedOption({ limits: { maxSchemaCount: 3 } as never }, 'limits.maxSchemaCount');
  });

  it('refuses to serve a non-loopback interface without auth unless told to', async () => {
    await expectRefusedOption({ host: '0.0.0.0' }, 'auth');
    registry = await startTestRegistry({ host: '0.0.0.0', auth: { username: 'u', password: 'p' } });
    await registry.close();
    registry = await startTestRegistry({ host: '0.0.0.0', allowUnauthenticatedRemote: true });
    expect((await registry.call('GET', '/subjects')).status).to.equal(200);
  });

  it('logs failed logins without the password and slows the next answer down', async () => {
    const warnings: Record<string, unknown>[] = [];
    const logger: Logger = { ...silentLogger, warn: (fields) => warnings.push(fields) };
    registry = await startTestRegistry({ auth: { username: 'u', password: 'secret' }, logger });
    const wrong = `Basic ${Buffer.from('u:guess').toString('base64')}`;
    expectError(await registry.call('GET', '/subjects', undefined, { authorization: wrong }), 401, 401);
    expectError(await registry.call('GET', '/subjects', undefined, { authorization: wrong }), 401, 401);
    expect(warnings.map((w) => w.failures)).to.deep.equal([1, 2]);
    expect(warnings[0]).to.have.property('remoteAddress').that.is.a('string');
    expect(JSON.stringify(warnings)).not.to.contain('guess');
    const right = `Basic ${Buffer.from('u:secret').toString('base64')}`;
    expect((await registry.call('GET', '/subjects', undefined, { authorization: right })).status).to.equal(
      200,
    );
    expect([1, 2, 3, 6, 7, 50].map(failedLoginDelayMs)).to.deep.equal([100, 200, 400, 3_200, 5_000, 5_000]);
  });

  it('closes a connection that does not finish its headers in time, and caps connections', async () => {
    registry = await startTestRegistry({ headersTimeoutMs: 300, requestTimeoutMs: 600, maxConnections: 2 });
    const closed = (socket: ReturnType<typeof connect>) =>
      new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const slow = connect(registry.port, '127.0.0.1');
    slow.resume(); // read the 408, so that 'close' can come
    const slowClosed = closed(slow);
    slow.write('POST /subjects/s/versions HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const second = connect(registry.port, '127.0.0.1');
    await new Promise((resolve) => second.once('connect', resolve));
    let thirdClosed = false;
    const third = connect(registry.port, '127.0.0.1');
    third.on('error', () => undefined);
    third.once('close', () => (thirdClosed = true));
    await waitFor(() => thirdClosed, { timeoutMs: 5_000, message: 'the third connection refused' });
    await slowClosed; // the mocha timeout is the deadline: the server closes it after ~300 ms
    second.destroy();
  });

  it('serves HTTPS with a certificate and key', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'registry-tls-'));
    try {
      await run('openssl', [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ]);
      const cert = await readFile(join(dir, 'cert.pem'));
      const key = await readFile(join(dir, 'key.pem'));
      const running = await startRegistry({ port: 0, tls: { cert, key } });
      try {
        expect(running.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
        const body = await new Promise<string>((resolve, reject) => {
          httpsRequest(`${running.url}/subjects`, { ca: cert }, (response) => {
            let text = '';
            response.on('data', (chunk: Buffer) => (text += chunk.toString()));
            response.on('end', () => resolve(text));
          })
            .on('error', reject)
            .end();
        });
        expect(JSON.parse(body)).to.deep.equal([]);
      } finally {
        await running.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('locks a SQLite store to one process: a second registry on the file fails at once, typed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'registry-lock-'));
    const file = join(dir, 'registry.db');
    const store = await SqliteRegistryStore.open(file);
    try {
      const storeModule = new URL('../src/stores/sqlite-store.js', import.meta.url).href;
      const script = `const { SqliteRegistryStore } = await import(${JSON.stringify(storeModule)});
        try { await SqliteRegistryStore.open(${JSON.stringify(file)}); console.log('opened'); }
        catch (e) { console.log(e.code); }`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
      expect(stdout.trim()).to.equal('REGISTRY_STORE_LOCKED');
      const second = await SqliteRegistryStore.open(file).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(isOmnibusError(second) && second.code).to.equal('REGISTRY_STORE_LOCKED');
    } finally {
      await store.close();
    }
    // Closed, the file is free again, with its data.
    const reopened = await SqliteRegistryStore.open(file);
    await reopened.close();
    await rm(dir, { recursive: true, force: true });
  });
});

async function expectRefusedOption(
  options: Parameters<typeof startRegistry>[0],
  field: string,
): Promise<void> {
  const error = await startRegistry({ port: 0, ...options }).then(
    async (running) => {
      await running.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(ConfigurationError);
  expect((error as Error).message).to.contain(field);
}
