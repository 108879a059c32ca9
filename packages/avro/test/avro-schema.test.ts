import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listSchemaFiles, parseSchema, readSchemaFile } from '../src/index.js';

const schemasDir = fileURLToPath(new URL('../../../../schemas', import.meta.url));

describe('schemas', () => {
  it('the canonical form ignores layout and attribute order, keeps docs', () => {
    const a = parseSchema(
      '{"type":"record","name":"R","namespace":"n","doc":"d","fields":[{"name":"a","type":{"type":"int"}}]}',
    );
    const b = parseSchema(`{
      "fields": [ { "type": "int", "name": "a" } ],
      "doc": "d", "namespace": "n", "name": "R", "type": "record" }`);
    expect(a.canonical).to.equal(b.canonical);
    expect(a.name).to.equal('n.R');
    expect(
      parseSchema(
        '{"type":"record","name":"R","namespace":"n","doc":"other","fields":[{"name":"a","type":"int"}]}',
      ).canonical,
    ).to.not.equal(a.canonical);
  });

  it('the canonical form keeps default values as they are', () => {
    const parsed = parseSchema({
      type: 'record',
      name: 'R',
      fields: [{ name: 'm', type: { type: 'map', values: 'string' }, default: { type: 'string' } }],
    });
    const canonical = JSON.parse(parsed.canonical) as { fields: { default: unknown }[] };
    expect(canonical.fields[0]!.default).to.deep.equal({ type: 'string' });
  });

  it('every schema of the sample services parses strictly and is a named record', async () => {
    const files = await listSchemaFiles(schemasDir);
    expect(files).to.include.members([
      'orders/OrderPlaced.avsc',
      'orders/OrderConfirmed.avsc',
      'orders/OrderCancelled.avsc',
      'payments/ProcessPayment.avsc',
      'payments/PaymentSucceeded.avsc',
      'payments/PaymentFailed.avsc',
      'payments/RefundPayment.avsc',
      'inventory/ReserveStock.avsc',
      'inventory/StockReserved.avsc',
      'inventory/StockReleased.avsc',
      'inventory/StockRejected.avsc',
      'inventory/ReleaseStock.avsc',
    ]);
    for (const file of files) {
      const parsed = parseSchema(await readSchemaFile(schemasDir, file), { strictLogicalTypes: true });
      const [dir, base] = file.split('/');
      expect(parsed.name, file).to.equal(`${dir}.${base!.replace('.avsc', '')}`);
      expect((parsed.json as { doc?: string }).doc, file).to.be.a('string');
    }
  });

  it('reading a schema file outside the directory or missing is a SchemaError', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'omnibus-schemas-'));
    try {
      for (const path of ['../etc/passwd', '/etc/passwd', 'missing.avsc']) {
        const error = await readSchemaFile(dir, path).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, path).to.have.property('code', 'SCHEMA_FILE_NOT_FOUND');
      }
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
