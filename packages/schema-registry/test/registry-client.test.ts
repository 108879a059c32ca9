import { expect } from 'chai';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryError, SchemaRegistryClient } from '@omnibus/avro';
import { ConfigurationError, TimeoutError, constant } from '@omnibus/core';
import type { RegistryFixture } from './registry-fixture.js';
import { startTestRegistry } from './registry-fixture.js';

const v1 = JSON.stringify({
  type: 'record',
  name: 'R',
  namespace: 't',
  fields: [{ name: 'a', type: 'int' }],
});
const v2 = JSON.stringify({
  type: 'record',
  name: 'R',
  namespace: 't',
  fields: [
    { name: 'a', type: 'int' },
    { name: 'b', type: 'string', default: '' },
  ],
});
const breaking = JSON.stringify({
  type: 'record',
  name: 'R',
  namespace: 't',
  fields: [{ name: 'c', type: 'string' }],
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

/** A bare HTTP server for what our registry never does: fail, stall, want a bearer token. */
async function fixtureServer(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('SchemaRegistryClient', () => {
  let registry: RegistryFixture;
  let client: SchemaRegistryClient;

  beforeEach(async () => {
    registry = await startTestRegistry();
    client = new SchemaRegistryClient({ url: registry.url, backoff: constant(1) });
  });
  afterEach(async () => {
    await registry.close();
  });

  it('registers, looks up, reads and lists against our server', async () => {
    expect(await client.register('s-value', v1)).to.equal(1);
    expect(await client.register('s-value', v2)).to.equal(2);
    expect(await client.lookup('s-value', v1)).to.deep.include({ subject: 's-value', version: 1, id: 1 });
    expect(JSON.parse(await client.getSchemaById(2))).to.deep.equal(JSON.parse(v2));
    expect(await client.getVersion('s-value', 'latest')).to.deep.include({ version: 2, id: 2 });
    expect(await client.getVersion('s-value', 1)).to.deep.include({ version: 1, id: 1 });
    expect(await client.listSubjects()).to.deep.equal(['s-value']);
    expect(await client.listVersions('s-value')).to.deep.equal([1, 2]);
  });

  it('tests compatibility with the reasons and manages levels', async () => {
    await client.register('s', v1);
    expect(await client.testCompatibility('s', v2)).to.deep.equal({ compatible: true, messages: [] });
    const refused = await client.testCompatibility('s', breaking, 1);
    expect(refused.compatible).to.equal(false);
    expect(refused.messages.join('\n')).to.contain("field 'c'");
    expect(await client.getCompatibility()).to.equal('BACKWARD');
    expect(await client.setCompatibility('NONE', 's')).to.equal('NONE');
    expect(await client.getCompatibility('s')).to.equal('NONE');
    expect(await client.getCompatibility('other')).to.equal('BACKWARD');
    expect(await client.setCompatibility('FULL')).to.equal('FULL');
    expect(await client.getCompatibility()).to.equal('FULL');
    expect(await rejection(client.setCompatibility('MAYBE' as never))).to.be.instanceOf(ConfigurationError);
  });

  it('deletes versions and subjects, softly then for good', async () => {
    await client.register('s', v1);
    await client.register('s', v2);
    expect(await client.deleteVersion('s', 2)).to.equal(2);
    expect(await client.deleteVersion('s', 2, { permanent: true })).to.equal(2);
    expect(await client.deleteSubject('s')).to.deep.equal([1]);
    expect(await client.deleteSubject('s', { permanent: true })).to.deep.equal([1]);
    expect(await client.listSubjects()).to.deep.equal([]);
    // Deleting forgets the cached registration: registering again makes a new version.
    expect(await client.register('s', v1)).to.equal(1);
    expect(await client.listVersions('s')).to.deep.equal([1]);
  });

  it('caches what cannot change, and shares one request among concurrent misses', async () => {
    await client.register('s', v1);
    await client.register('s', v1);
    await Promise.all([client.getSchemaById(1), client.getSchemaById(1), client.getSchemaById(1)]);
    await client.getSchemaById(1);
    await client.lookup('s', v1);
    await client.lookup('s', v1);
    expect(registry.requests).to.deep.equal([
      'POST /subjects/s/versions',
      'GET /schemas/ids/1',
      'POST /subjects/s',
    ]);
  });

  it('fails with Confluent error codes, at once, without retrying refusals', async () => {
    const unknownId = await rejection(client.getSchemaById(42));
    expect(unknownId).to.be.instanceOf(RegistryError).and.include({
      status: 404,
      errorCode: 40403,
      code: 'SCHEMA_NOT_FOUND',
      retriable: false,
    });
    expect(await rejection(client.listVersions('nope'))).to.include({
      errorCode: 40401,
      code: 'SUBJECT_NOT_FOUND',
    });
    await client.register('s', v1);
    const incompatible = await rejection(client.register('s', breaking));
    expect(incompatible).to.include({ status: 409, errorCode: 409, code: 'INCOMPATIBLE_SCHEMA' });
    expect((incompatible as Error).message).to.contain("field 'c'");
    expect(await rejection(client.register('s', '{"type":"nope"}'))).to.include({ errorCode: 42201 });
    expect(registry.requests.filter((r) => r === 'GET /schemas/ids/42')).to.have.length(1);
    // A failure is not cached.
    expect(registry.requests.filter((r) => r === 'POST /subjects/s/versions')).to.have.length(3);
  });

  it('authenticates with basic auth', async () => {
    const secured = await startTestRegistry({ auth: { username: 'u', password: 'p' } });
    try {
      const good = new SchemaRegistryClient({ url: secured.url, auth: { username: 'u', password: 'p' } });
      expect(await good.register('s', v1)).to.equal(1);
      const bad = new SchemaRegistryClient({ url: secured.url, auth: { username: 'u', password: 'x' } });
      expect(await rejection(bad.listSubjects())).to.include({
        status: 401,
        code: 'REGISTRY_UNAUTHORIZED',
        retriable: false,
      });
      const none = new SchemaRegistryClient({ url: secured.url });
      expect(await rejection(none.listSubjects())).to.include({ status: 401 });
    } finally {
      await secured.close();
    }
  });

  it('moves credentials from the url into basic auth, and no message ever shows them', async () => {
    const secured = await startTestRegistry({ auth: { username: 'u@x', password: 'p@ss/w:rd' } });
    try {
      const withUserinfo = secured.url.replace('//', '//u%40x:p%40ss%2Fw%3Ard@');
      const good = new SchemaRegistryClient({ url: withUserinfo });
      expect(good.url).to.equal(secured.url);
      expect(await good.register('s', v1)).to.equal(1);
      const wrong = new SchemaRegistryClient({ url: secured.url.replace('//', '//u%40x:wrong-secret@') });
      const refused = (await rejection(wrong.listSubjects())) as Error;
      expect(refused).to.include({ status: 401 });
      expect(refused.message).not.to.match(/wrong-secret|u%40x/);
    } finally {
      await secured.close();
    }
    const server = await fixtureServer(() => {});
    await server.close();
    const lost = new SchemaRegistryClient({
      url: server.url.replace('//', '//key:lost-secret@'),
      attempts: 1,
    });
    const unreachable = (await rejection(lost.listSubjects())) as Error;
    expect(unreachable).to.include({ code: 'REGISTRY_UNREACHABLE' });
    expect(`${unreachable.message} ${String((unreachable.cause as Error).message)}`).not.to.contain(
      'lost-secret',
    );
    expect(() => new SchemaRegistryClient({ url: 'http://k:s@h', auth: { token: 't' } }))
      .to.throw(ConfigurationError)
      .with.property('field', 'url');
    expect(() => new SchemaRegistryClient({ url: 'http://k:bad-secret@[h' }))
      .to.throw(ConfigurationError)
      .with.property('message')
      .that.does.not.contain('bad-secret');
  });

  it('sends a bearer token, and keeps a base path (Apicurio ccompat, proxies)', async () => {
    const seen: { url?: string; authorization?: string }[] = [];
    const server = await fixtureServer((request, response) => {
      seen.push({ url: request.url, authorization: request.headers.authorization });
      response.writeHead(200, { 'content-type': 'application/json' }).end('["a"]');
    });
    try {
      const bearer = new SchemaRegistryClient({
        url: `${server.url}/apis/ccompat/v7/`,
        auth: { token: 'tok' },
      });
      expect(await bearer.listSubjects()).to.deep.equal(['a']);
      expect(seen).to.deep.equal([{ url: '/apis/ccompat/v7/subjects', authorization: 'Bearer tok' }]);
    } finally {
      await server.close();
    }
  });

  it('retries 5xx and 429 with backoff, then gives up with a retriable error', async () => {
    let calls = 0;
    const server = await fixtureServer((_request, response) => {
      calls++;
      if (calls <= 2) {
        response
          .writeHead(calls === 1 ? 503 : 429, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error_code: 50001, message: 'busy' }));
      } else {
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ schema: '"int"' }));
      }
    });
    try {
      const patient = new SchemaRegistryClient({ url: server.url, attempts: 3, backoff: constant(1) });
      expect(await patient.getSchemaById(1)).to.equal('"int"');
      expect(calls).to.equal(3);
      calls = 0;
      const impatient = new SchemaRegistryClient({ url: server.url, attempts: 1 });
      expect(await rejection(impatient.getSchemaById(1)))
        .to.be.instanceOf(RegistryError)
        .and.include({
          status: 503,
          errorCode: 50001,
          retriable: true,
        });
      expect(calls).to.equal(1);
    } finally {
      await server.close();
    }
  });

  it('times a request out with a TimeoutError', async () => {
    const server = await fixtureServer(() => {
      // never answers
    });
    try {
      const hasty = new SchemaRegistryClient({
        url: server.url,
        timeoutMs: 50,
        attempts: 2,
        backoff: constant(1),
      });
      const started = Date.now();
      expect(await rejection(hasty.listSubjects()))
        .to.be.instanceOf(TimeoutError)
        .and.include({ retriable: true });
      expect(Date.now() - started).to.be.lessThan(5_000);
    } finally {
      await server.close();
    }
  });

  it('reports an unreachable registry as a retriable RegistryError', async () => {
    const server = await fixtureServer(() => {});
    const url = server.url;
    await server.close();
    const lost = new SchemaRegistryClient({ url, attempts: 2, backoff: constant(1) });
    expect(await rejection(lost.listSubjects()))
      .to.be.instanceOf(RegistryError)
      .and.include({
        code: 'REGISTRY_UNREACHABLE',
        retriable: true,
      });
  });

  it('validates its options, naming the field', () => {
    const bad: [unknown, string][] = [
      [{ url: 'not a url' }, 'url'],
      [{ url: 'ftp://host' }, 'url'],
      [{ url: 'http://h', timeoutMs: 0 }, 'timeoutMs'],
      [{ url: 'http://h', attempts: 1.5 }, 'attempts'],
      [{ url: 'http://h', backoff: 5 }, 'backoff'],
      [{ url: 'http://h', auth: { token: '' } }, 'auth.token'],
      [{ url: 'http://h', auth: { username: 'a:b', password: '' } }, 'auth.username'],
      [{ url: 'http://h', auth: { username: 'a', password: 1 } }, 'auth.password'],
    ];
    for (const [options, field] of bad) {
      expect(() => new SchemaRegistryClient(options as never), field)
        .to.throw(ConfigurationError)
        .with.property('field', field);
    }
  });
});
