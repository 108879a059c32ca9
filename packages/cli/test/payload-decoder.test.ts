import { expect } from 'chai';
import type { Envelope } from '@omnibus/core';
import { Header, isOmnibusError } from '@omnibus/core';
import { AVRO_CONTENT_TYPE, SchemaRegistryClient, frame, parseSchema } from '@omnibus/avro';
import type { RunningRegistry } from '@omnibus/schema-registry';
import { MemoryRegistryStore, startRegistry } from '@omnibus/schema-registry';
import { PayloadDecoder } from '../src/dead-letters/payload-decoder.js';

const schema = JSON.stringify({
  type: 'record',
  name: 'PlaceOrder',
  namespace: 'orders',
  fields: [
    { name: 'sku', type: 'string' },
    { name: 'quantity', type: 'int' },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
});

function envelope(contentType: string, body: Uint8Array): Envelope {
  return { id: 'm-1', type: 'orders.PlaceOrder', headers: { [Header.contentType]: contentType }, body };
}

describe('dead-letter payloads: decoded by content type, edits checked against the schema', function () {
  let registry: RunningRegistry;
  let client: SchemaRegistryClient;
  let schemaId: number;

  before(async function () {
    registry = await startRegistry({ port: 0, host: '127.0.0.1', store: new MemoryRegistryStore() });
    client = new SchemaRegistryClient({ url: registry.url });
    schemaId = await client.register('orders.PlaceOrder-value', schema);
  });
  after(async () => registry.close());

  it('decodes Avro with the writer’s schema from the registry, and re-encodes an edit that fits', async function () {
    const type = parseSchema(schema).type;
    const body = frame(schemaId, type.toBuffer({ sku: 'A1', quantity: -1, note: 'rush' }));
    const decoder = new PayloadDecoder(client);
    const decoded = await decoder.decode(envelope(AVRO_CONTENT_TYPE, body));
    expect(decoded).to.deep.include({ format: 'avro', schemaId });
    // Avro's JSON encoding: a union value is wrapped in its branch name.
    expect(PayloadDecoder.editable(decoded)).to.deep.equal({
      sku: 'A1',
      quantity: -1,
      note: { string: 'rush' },
    });
    const edited = await decoder.encode(decoded, { sku: 'A1', quantity: 3, note: null }, 'PlaceOrder');
    expect({ ...(type.fromBuffer(Buffer.from(edited).subarray(5)) as object) }).to.deep.equal({
      sku: 'A1',
      quantity: 3,
      note: null,
    });
    expect(Buffer.from(edited).readUInt32BE(1)).to.equal(schemaId);
  });

  it('refuses an edit that does not fit the schema, naming the field', async function () {
    const type = parseSchema(schema).type;
    const decoder = new PayloadDecoder(client);
    const decoded = await decoder.decode(
      envelope(AVRO_CONTENT_TYPE, frame(schemaId, type.toBuffer({ sku: 'A1', quantity: 1, note: null }))),
    );
    let error: unknown;
    await decoder
      .encode(decoded, { sku: 'A1', quantity: 'three', note: null }, 'PlaceOrder')
      .catch((caught: unknown) => (error = caught));
    expect(isOmnibusError(error) && error.code).to.equal('CONTRACT_VIOLATION');
    await decoder.encode(decoded, { sku: 'A1' }, 'PlaceOrder').catch((caught: unknown) => (error = caught));
    expect((error as Error).message).to.contain('schema');
  });

  it('says why an Avro body cannot be decoded without a registry, and shows its bytes', async function () {
    const decoded = await new PayloadDecoder(undefined).decode(
      envelope(AVRO_CONTENT_TYPE, frame(7, Buffer.from([2, 3]))),
    );
    expect(decoded.format).to.equal('undecodable');
    expect(decoded).to.have.property('reason').that.contains('OMNIBUS_SCHEMA_REGISTRY_URL');
  });

  it('decodes JSON, text and bytes', async function () {
    const decoder = new PayloadDecoder(undefined);
    expect(await decoder.decode(envelope('application/json', Buffer.from('{"a":1}')))).to.deep.equal({
      format: 'json',
      value: { a: 1 },
    });
    expect(await decoder.decode(envelope('text/plain', Buffer.from('hi')))).to.deep.equal({
      format: 'text',
      text: 'hi',
    });
    expect(await decoder.decode(envelope('application/octet-stream', Buffer.from([0xff, 0])))).to.deep.equal({
      format: 'bytes',
      base64: '/wA=',
    });
    expect((await decoder.decode(envelope('application/json', Buffer.from('{ trunc')))).format).to.equal(
      'undecodable',
    );
  });
});
