import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from '@omnibus/core';
import { SqliteRegistryStore, startRegistry } from '../src/index.js';
import type { RegistryFixture, Reply } from './registry-fixture.js';
import { startTestRegistry } from './registry-fixture.js';

const record = (fields: unknown[], name = 'R') =>
  JSON.stringify({ type: 'record', name, namespace: 't', fields });
const v1 = record([{ name: 'a', type: 'int' }]);
const v2 = record([
  { name: 'a', type: 'int' },
  { name: 'b', type: 'string', default: '' },
]);
/** Adds `c` without a default: not BACKWARD compatible with v1 or v2. */
const breaking = record([
  { name: 'a', type: 'int' },
  { name: 'c', type: 'string' },
]);

function expectError(reply: Reply, status: number, errorCode: number): void {
  expect(reply.status, JSON.stringify(reply.body)).to.equal(status);
  expect(reply.body).to.have.property('error_code', errorCode);
  expect(reply.body).to.have.property('message').that.is.a('string');
}

describe('schema registry REST API', () => {
  let registry: RegistryFixture;

  beforeEach(async () => {
    registry = await startTestRegistry();
  });
  afterEach(async () => {
    await registry.close();
  });

  const register = (subject: string, schema: string) =>
    registry.call('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema });

  describe('registration and reads', () => {
    it('answers the root and the schema types with the Confluent content type', async () => {
      const root = await registry.call('GET', '/');
      expect(root).to.deep.include({ status: 200, body: {} });
      expect(root.headers.get('content-type')).to.equal('application/vnd.schemaregistry.v1+json');
      expect((await registry.call('GET', '/schemas/types')).body).to.deep.equal(['AVRO']);
    });

    it('registers idempotently, with one global id per schema across subjects', async () => {
      expect(await register('orders-value', v1)).to.deep.include({ status: 200, body: { id: 1 } });
      // The same schema written differently is the same schema.
      const relaid = JSON.stringify(JSON.parse(v1), null, 2);
      expect((await register('orders-value', relaid)).body).to.deep.equal({ id: 1 });
      expect((await registry.call('GET', '/subjects/orders-value/versions')).body).to.deep.equal([1]);
      expect((await register('audit-value', v1)).body).to.deep.equal({ id: 1 });
      expect((await register('orders-value', v2)).body).to.deep.equal({ id: 2 });
      expect((await registry.call('GET', '/subjects')).body).to.deep.equal(['audit-value', 'orders-value']);
      expect((await registry.call('GET', '/subjects/orders-value/versions')).body).to.deep.equal([1, 2]);
      // Registering an older version again returns its id without a new version.
      expect((await register('orders-value', v1)).body).to.deep.equal({ id: 1 });
      expect((await registry.call('GET', '/subjects/orders-value/versions')).body).to.deep.equal([1, 2]);
    });

    it('reads versions by number, latest and -1, and schemas by id', async () => {
      await register('s', v1);
      await register('s', v2);
      const latest = await registry.call('GET', '/subjects/s/versions/latest');
      expect(latest.body).to.deep.include({ subject: 's', version: 2, id: 2 });
      expect(JSON.parse((latest.body as { schema: string }).schema)).to.deep.equal(JSON.parse(v2));
      expect((await registry.call('GET', '/subjects/s/versions/-1')).body).to.deep.include({ version: 2 });
      expect((await registry.call('GET', '/subjects/s/versions/1')).body).to.deep.include({
        version: 1,
        id: 1,
      });
      const byId = await registry.call('GET', '/schemas/ids/1');
      expect(JSON.parse((byId.body as { schema: string }).schema)).to.deep.equal(JSON.parse(v1));
    });

    it('looks a schema up in a subject', async () => {
      await register('s', v1);
      await register('s', v2);
      const found = await registry.call('POST', '/subjects/s', { schema: v1 });
      expect(found.body).to.deep.include({ subject: 's', version: 1, id: 1 });
      expectError(await registry.call('POST', '/subjects/s', { schema: breaking }), 404, 40403);
      expectError(await registry.call('POST', '/subjects/nope', { schema: v1 }), 404, 40401);
    });

    it('registers primitive schemas (as Confluent clients do for keys) and checks their compatibility', async () => {
      // A primitive's parsed JSON is a bare string; it used to be parsed a second time (500 / 50001).
      for (const primitive of ['"string"', '"int"', '{"type":"long"}', '"bytes"']) {
        const reply = await register(`keys-${primitive.length}-key`, primitive);
        expect(reply.status, JSON.stringify(reply.body)).to.equal(200);
      }
      expect((await register('k-key', '"string"')).body).to.deep.equal({ id: 1 });
      expect((await register('k-key', '"string"')).body).to.deep.equal({ id: 1 });
      // string → int is not BACKWARD compatible; int → long is (promotion).
      expectError(await register('k-key', '"int"'), 409, 409);
      expect((await register('n-key', '"int"')).status).to.equal(200);
      expect((await register('n-key', '"long"')).status).to.equal(200);
      const tested = await registry.call('POST', '/compatibility/subjects/k-key/versions/latest', {
        schema: '"string"',
      });
      expect(tested).to.deep.include({ status: 200, body: { is_compatible: true } });
      const lookedUp = await registry.call('POST', '/subjects/k-key', { schema: '"string"' });
      expect(lookedUp.body).to.deep.include({ subject: 'k-key', version: 1, schema: '"string"' });
    });

    it('handles subjects with characters that need encoding', async () => {
      const subject = 'team a/orders.Placed-value';
      expect((await register(subject, v1)).status).to.equal(200);
      expect((await registry.call('GET', '/subjects')).body).to.deep.equal([subject]);
      const latest = await registry.call('GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`);
      expect(latest.body).to.deep.include({ subject });
    });

    it('gives concurrent registrations distinct versions and one id per schema', async () => {
      await registry.call('PUT', '/config', { compatibility: 'NONE' });
      const schemas = Array.from({ length: 20 }, (_, i) => record([{ name: `f${i}`, type: 'int' }]));
      const replies = await Promise.all([...schemas, ...schemas].map((schema) => register('c', schema)));
      expect(replies.every((r) => r.status === 200)).to.equal(true);
      const ids = replies.map((r) => (r.body as { id: number }).id);
      expect(ids.slice(0, 20)).to.deep.equal(ids.slice(20));
      expect(new Set(ids).size).to.equal(20);
      expect((await registry.call('GET', '/subjects/c/versions')).body).to.have.length(20);
    });
  });

  describe('compatibility', () => {
    it('refuses an incompatible schema with 409 and the reason, naming the field and rule', async () => {
      await register('s', v1);
      const refused = await register('s', breaking);
      expectError(refused, 409, 409);
      const message = (refused.body as { message: string }).message;
      expect(message).to.contain('incompatible with an earlier schema for subject "s"');
      expect(message).to.contain("field 'c'").and.contain('READER_FIELD_MISSING_DEFAULT_VALUE');
    });

    it('tests compatibility against the latest or a given version, verbose on request', async () => {
      await register('s', v1);
      await register('s', v2);
      expect(
        (await registry.call('POST', '/compatibility/subjects/s/versions/latest', { schema: v2 })).body,
      ).to.deep.equal({
        is_compatible: true,
      });
      const verbose = await registry.call('POST', '/compatibility/subjects/s/versions/latest?verbose=true', {
        schema: breaking,
      });
      expect(verbose.body).to.have.property('is_compatible', false);
      expect((verbose.body as { messages: string[] }).messages[0]).to.contain("field 'c'");
      expect(
        (await registry.call('POST', '/compatibility/subjects/s/versions', { schema: breaking })).body,
      ).to.deep.equal({
        is_compatible: false,
      });
      expect(
        (await registry.call('POST', '/compatibility/subjects/s/versions/1?verbose=true', { schema: v2 }))
          .body,
      ).to.deep.equal({ is_compatible: true, messages: [] });
      expectError(
        await registry.call('POST', '/compatibility/subjects/s/versions/9', { schema: v2 }),
        404,
        40402,
      );
      expectError(
        await registry.call('POST', '/compatibility/subjects/none/versions/1', { schema: v2 }),
        404,
        40401,
      );
    });

    it('a new subject is compatible with anything', async () => {
      const reply = await registry.call('POST', '/compatibility/subjects/new/versions/latest', {
        schema: v1,
      });
      expect(reply.body).to.deep.equal({ is_compatible: true });
    });

    it('global and subject levels: set, read, fall back, reset', async () => {
      expect((await registry.call('GET', '/config')).body).to.deep.equal({ compatibilityLevel: 'BACKWARD' });
      expect((await registry.call('PUT', '/config', { compatibility: 'full' })).body).to.deep.equal({
        compatibility: 'FULL',
      });
      expectError(await registry.call('GET', '/config/s'), 404, 40408);
      expect((await registry.call('GET', '/config/s?defaultToGlobal=true')).body).to.deep.equal({
        compatibilityLevel: 'FULL',
      });
      await register('s', v1);
      expectError(await register('s', breaking), 409, 409);
      expect((await registry.call('PUT', '/config/s', { compatibility: 'NONE' })).body).to.deep.equal({
        compatibility: 'NONE',
      });
      expect((await register('s', breaking)).status).to.equal(200);
      expect((await registry.call('DELETE', '/config/s')).body).to.deep.equal({ compatibilityLevel: 'NONE' });
      expectError(await registry.call('DELETE', '/config/s'), 404, 40408);
      expect((await registry.call('DELETE', '/config')).body).to.deep.equal({ compatibilityLevel: 'FULL' });
      expect((await registry.call('GET', '/config')).body).to.deep.equal({ compatibilityLevel: 'BACKWARD' });
      expectError(await registry.call('PUT', '/config', { compatibility: 'SIDEWAYS' }), 422, 42203);
      expectError(await registry.call('PUT', '/config/s', {}), 422, 42203);
    });

    it('FORWARD_TRANSITIVE checks every version', async () => {
      await registry.call('PUT', '/config/s', { compatibility: 'FORWARD_TRANSITIVE' });
      await register(
        's',
        record([
          { name: 'a', type: 'int' },
          { name: 'b', type: 'int' },
        ]),
      );
      await register(
        's',
        record([
          { name: 'a', type: 'int' },
          { name: 'b', type: 'int', default: 0 },
        ]),
      );
      const reply = await register('s', record([{ name: 'a', type: 'int' }]));
      expectError(reply, 409, 409);
      expect((reply.body as { message: string }).message).to.contain('version 1 cannot read');
    });
  });

  describe('modes', () => {
    it('a read-only subject refuses registrations and deletions; others are untouched', async () => {
      await register('s', v1);
      expect((await registry.call('GET', '/mode')).body).to.deep.equal({ mode: 'READWRITE' });
      expectError(await registry.call('GET', '/mode/s'), 404, 40409);
      expect((await registry.call('PUT', '/mode/s', { mode: 'READONLY' })).body).to.deep.equal({
        mode: 'READONLY',
      });
      expect((await registry.call('GET', '/mode/s')).body).to.deep.equal({ mode: 'READONLY' });
      expect((await registry.call('GET', '/mode/t?defaultToGlobal=true')).body).to.deep.equal({
        mode: 'READWRITE',
      });
      expectError(await register('s', v2), 422, 42205);
      expectError(await registry.call('DELETE', '/subjects/s'), 422, 42205);
      expect((await register('s', v1)).body).to.deep.equal({ id: 1 }); // already there: nothing written
      expect((await register('t', v2)).status).to.equal(200);
      await registry.call('PUT', '/mode', { mode: 'READONLY' });
      expectError(await register('u', v2), 422, 42205);
    });

    it('refuses unknown and unsupported modes with 42204', async () => {
      expectError(await registry.call('PUT', '/mode', { mode: 'SOMETIMES' }), 422, 42204);
      expectError(await registry.call('PUT', '/mode/s', { mode: 'IMPORT' }), 422, 42204);
    });
  });

  describe('deletion', () => {
    it('soft-deletes a version, hides it unless asked, then deletes it for good', async () => {
      await register('s', v1);
      await register('s', v2);
      expect((await registry.call('DELETE', '/subjects/s/versions/1')).body).to.equal(1);
      expect((await registry.call('GET', '/subjects/s/versions')).body).to.deep.equal([2]);
      expect((await registry.call('GET', '/subjects/s/versions?deleted=true')).body).to.deep.equal([1, 2]);
      expectError(await registry.call('GET', '/subjects/s/versions/1'), 404, 40402);
      expect((await registry.call('GET', '/subjects/s/versions/1?deleted=true')).status).to.equal(200);
      expectError(await registry.call('DELETE', '/subjects/s/versions/1'), 404, 40406);
      expectError(await registry.call('DELETE', '/subjects/s/versions/2?permanent=true'), 404, 40407);
      expect((await registry.call('DELETE', '/subjects/s/versions/1?permanent=true')).body).to.equal(1);
      expect((await registry.call('GET', '/subjects/s/versions?deleted=true')).body).to.deep.equal([2]);
      // Ids outlive their versions: readers of old data still find the writer's schema.
      expect((await registry.call('GET', '/schemas/ids/1')).status).to.equal(200);
    });

    it('soft-deletes a subject, then deletes it for good; re-registering keeps the schema id', async () => {
      await register('s', v1);
      await register('s', v2);
      expectError(await registry.call('DELETE', '/subjects/s?permanent=true'), 404, 40405);
      expect((await registry.call('DELETE', '/subjects/s')).body).to.deep.equal([1, 2]);
      expectError(await registry.call('DELETE', '/subjects/s'), 404, 40404);
      expect((await registry.call('GET', '/subjects')).body).to.deep.equal([]);
      expect((await registry.call('GET', '/subjects?deleted=true')).body).to.deep.equal(['s']);
      expectError(await registry.call('GET', '/subjects/s/versions'), 404, 40401);
      expect((await register('s', v1)).body).to.deep.equal({ id: 1 });
      expect((await registry.call('GET', '/subjects/s/versions/latest')).body).to.deep.include({
        version: 3,
      });
      await registry.call('DELETE', '/subjects/s');
      expect((await registry.call('DELETE', '/subjects/s?permanent=true')).body).to.deep.equal([1, 2, 3]);
      expectError(await registry.call('DELETE', '/subjects/s'), 404, 40401);
    });
  });

  describe('errors, in Confluent codes and bodies', () => {
    it('unknown subject, version, schema id', async () => {
      await register('s', v1);
      expectError(await registry.call('GET', '/subjects/nope/versions'), 404, 40401);
      expectError(await registry.call('GET', '/subjects/nope/versions/latest'), 404, 40401);
      expectError(await registry.call('GET', '/subjects/s/versions/7'), 404, 40402);
      expectError(await registry.call('GET', '/schemas/ids/99'), 404, 40403);
      expectError(await registry.call('GET', '/schemas/ids/abc'), 404, 40403);
    });

    it('invalid version ids', async () => {
      await register('s', v1);
      for (const version of ['0', 'abc', '2147483648', '1.5']) {
        expectError(await registry.call('GET', `/subjects/s/versions/${version}`), 422, 42202);
      }
    });

    it('invalid schemas', async () => {
      const bodies: unknown[] = [
        { schema: 'not json' },
        { schema: '{"type":"record","name":"R"}' },
        { schema: '{"type":"unknown"}' },
        {},
        { schema: 42 },
        { schema: v1, schemaType: 'PROTOBUF' },
        { schema: v1, references: [{ name: 'x', subject: 'y', version: 1 }] },
      ];
      for (const body of bodies) {
        expectError(await registry.call('POST', '/subjects/s/versions', body), 422, 42201);
      }
      expectError(
        await registry.call('POST', '/compatibility/subjects/s/versions/latest', { schema: '{' }),
        422,
        42201,
      );
      expect((await registry.call('GET', '/subjects')).body).to.deep.equal([]);
    });

    it('malformed JSON, unknown paths, wrong methods', async () => {
      expectError(await registry.call('POST', '/subjects/s/versions', '{"schema":'), 400, 400);
      expectError(await registry.call('GET', '/nothing/here'), 404, 404);
      expectError(await registry.call('PATCH', '/subjects'), 405, 405);
      expectError(await registry.call('DELETE', '/schemas/ids/1'), 405, 405);
    });
  });

  describe('basic auth', () => {
    let secured: RegistryFixture;
    before(async () => {
      secured = await startTestRegistry({ auth: { username: 'omnibus', password: 's3cret' } });
    });
    after(async () => {
      await secured.close();
    });
    const basic = (user: string, password: string) => ({
      authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    });

    it('refuses missing or wrong credentials with 401 and a challenge, accepts the right ones', async () => {
      const missing = await secured.call('GET', '/subjects');
      expectError(missing, 401, 401);
      expect(missing.headers.get('www-authenticate')).to.contain('Basic');
      expectError(await secured.call('GET', '/subjects', undefined, basic('omnibus', 'wrong')), 401, 401);
      expectError(
        await secured.call('GET', '/subjects', undefined, { authorization: 'Bearer s3cret' }),
        401,
        401,
      );
      expect((await secured.call('GET', '/subjects', undefined, basic('omnibus', 's3cret'))).status).to.equal(
        200,
      );
    });
  });

  describe('startRegistry', () => {
    it('validates its options, naming the field', async () => {
      const bad: [Parameters<typeof startRegistry>[0], string][] = [
        [{ port: -1 }, 'port'],
        [{ port: 1.5 }, 'port'],
        [{ host: '' }, 'host'],
        [{ port: 0, auth: { username: '', password: 'x' } }, 'auth.username'],
        [{ port: 0, auth: { username: 'u', password: '' } }, 'auth.password'],
        [{ port: 0, defaultCompatibility: 'SOME' as never }, 'defaultCompatibility'],
        [{ port: 0, store: {} as never }, 'store'],
      ];
      for (const [options, field] of bad) {
        const error = await startRegistry(options).then(
          async (running) => {
            await running.close();
            return undefined;
          },
          (e: unknown) => e,
        );
        expect(error, field).to.be.instanceOf(ConfigurationError).with.property('field', field);
      }
    });

    it('starts with another default level', async () => {
      const full = await startTestRegistry({ defaultCompatibility: 'FULL_TRANSITIVE' });
      try {
        expect((await full.call('GET', '/config')).body).to.deep.equal({
          compatibilityLevel: 'FULL_TRANSITIVE',
        });
      } finally {
        await full.close();
      }
    });

    it('keeps schemas, ids and settings across restarts on the SQLite store', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'omnibus-registry-'));
      const path = join(dir, 'registry.db');
      try {
        let store = await SqliteRegistryStore.open(path);
        let running = await startTestRegistry({ store });
        await running.call('POST', '/subjects/s/versions', { schema: v1 });
        await running.call('POST', '/subjects/s/versions', { schema: v2 });
        await running.call('PUT', '/config/s', { compatibility: 'FULL' });
        await running.close();
        await store.close();

        store = await SqliteRegistryStore.open(path);
        running = await startTestRegistry({ store });
        expect((await running.call('GET', '/subjects/s/versions/latest')).body).to.deep.include({
          version: 2,
          id: 2,
        });
        expect((await running.call('POST', '/subjects/t/versions', { schema: v2 })).body).to.deep.equal({
          id: 2,
        });
        expect((await running.call('GET', '/config/s')).body).to.deep.equal({ compatibilityLevel: 'FULL' });
        await running.close();
        await store.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
