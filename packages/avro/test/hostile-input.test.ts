import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Contract } from '@omnibus/core';
import { ConfigurationError, DeserializationError, defineEvent } from '@omnibus/core';
import type { SchemaRegistry, SubjectVersion } from '../src/index.js';
import { AvroSerializer, RegistryError, RegistryErrorCode, frame, parseSchema } from '../src/index.js';

/**
 * Bodies an attacker on the network can publish: each must be refused with a `DeserializationError`
 * (non-retriable, so dead-lettered) after a scan of its bytes, before avsc allocates what they claim.
 * Without the guard, the first test runs the process out of heap and the others take seconds or more.
 */

/** A registry that holds the writer schemas these tests name by id, and counts its calls. */
class SchemasById implements SchemaRegistry {
  readonly #schemas = new Map<number, string>();
  calls = 0;
  add(id: number, schema: unknown): void {
    this.#schemas.set(id, JSON.stringify(schema));
  }
  register(): Promise<number> {
    return Promise.reject(new Error('not used'));
  }
  lookup(): Promise<SubjectVersion> {
    return Promise.reject(new Error('not used'));
  }
  getSchemaById(id: number): Promise<string> {
    this.calls++;
    const schema = this.#schemas.get(id);
    if (schema !== undefined) return Promise.resolve(schema);
    return Promise.reject(
      new RegistryError(`schema ${id} not found`, {
        status: 404,
        errorCode: RegistryErrorCode.schemaNotFound,
      }),
    );
  }
}

/** Zig-zag varint, as Avro writes an int or long. */
function varint(value: number): number[] {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  const bytes: number[] = [];
  while (zigzag >= 0x80) {
    bytes.push((zigzag % 0x80) | 0x80);
    zigzag = Math.floor(zigzag / 0x80);
  }
  bytes.push(zigzag);
  return bytes;
}

const anyType: Contract = defineEvent({ type: 'tests.Hostile', channel: 'hostile' });

async function refusal(result: unknown): Promise<DeserializationError> {
  const error = await Promise.resolve(result).then(
    () => expect.fail('expected the body to be refused'),
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(DeserializationError);
  expect((error as DeserializationError).retriable).to.equal(false);
  return error as DeserializationError;
}

describe('Avro decoding of hostile bodies', () => {
  const schemasDir = mkdtempSync(join(tmpdir(), 'omnibus-hostile-'));
  let registry: SchemasById;
  let avro: AvroSerializer;
  const decode = (id: number, bytes: number[] | Buffer) =>
    avro.decode(frame(id, Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes)), anyType);

  beforeEach(() => {
    registry = new SchemasById();
    registry.add(1, { type: 'array', items: 'int' });
    registry.add(2, { type: 'array', items: 'null' });
    registry.add(3, { type: 'map', values: 'int' });
    registry.add(4, { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 });
    registry.add(5, 'string');
    registry.add(6, {
      type: 'record',
      name: 'Node',
      fields: [{ name: 'next', type: ['null', 'Node'] }],
    });
    registry.add(7, { type: 'array', items: { type: 'record', name: 'Empty', fields: [] } });
    registry.add(8, { type: 'array', items: { type: 'array', items: 'null' } });
    avro = new AvroSerializer({ registry, schemasDir });
  });

  it('refuses an 11-byte array<int> claiming 4,294,967,295 items, by the bytes left', async () => {
    const body = [...varint(4_294_967_295), 0];
    expect(frame(1, Buffer.from(body)).length).to.equal(11);
    const error = await refusal(decode(1, body));
    expect(error.code).to.equal('MALFORMED_BODY');
    expect(error.message).to.contain('4294967295 items').and.contain('bytes left');
  });

  it('refuses an array<null> of 50,000,000 items, by the item cap', async () => {
    const error = await refusal(decode(2, [...varint(50_000_000), 0]));
    expect(error.code).to.equal('AVRO_LIMIT_EXCEEDED');
    expect(error.message).to.contain('limits.maxItems');
  });

  it('refuses arrays of empty records and nested array<null> past the cap for the whole body', async () => {
    expect((await refusal(decode(7, [...varint(2_000_000), 0]))).code).to.equal('AVRO_LIMIT_EXCEEDED');
    // 1,000 arrays of 999 nulls each is exactly the default cap of 1,000,000 items; one more null is over it.
    const inner = [...varint(999), 0];
    const atCap = [...varint(1_000), ...Array.from({ length: 1_000 }, () => inner).flat(), 0];
    expect(((await decode(8, atCap)) as unknown[][]).length).to.equal(1_000);
    const overCap = [
      ...varint(1_000),
      ...Array.from({ length: 999 }, () => inner).flat(),
      ...varint(1_000),
      0,
      0,
    ];
    expect((await refusal(decode(8, overCap))).code).to.equal('AVRO_LIMIT_EXCEEDED');
  });

  it('refuses a map<int> claiming 10^8 entries, and a negative block count whose size overruns', async () => {
    expect((await refusal(decode(3, [...varint(100_000_000), 0]))).code).to.equal('MALFORMED_BODY');
    const sizedBlock = [...varint(-2), ...varint(1_000_000), 2, 0x61, 2, 0];
    expect((await refusal(decode(3, sizedBlock))).message).to.contain('claims 1000000 bytes');
  });

  it('refuses a 200 KB decimal(10,2) before converting it, and one with more digits than its precision', async () => {
    const huge = Buffer.concat([Buffer.from(varint(200_000)), Buffer.alloc(200_000, 0x11)]);
    const error = await refusal(decode(4, huge));
    expect(error.code).to.equal('DECIMAL_OUT_OF_RANGE');
    expect(error.message).to.contain('200000 bytes');
    // Five bytes are allowed for 10 digits, but 0x7fffffffff is 549755813887: 12 digits.
    const tooPrecise = [...varint(5), 0x7f, 0xff, 0xff, 0xff, 0xff];
    expect((await refusal(decode(4, tooPrecise))).message).to.contain('12 digits');
    expect(await decode(4, [...varint(5), 0x02, 0x54, 0x0b, 0xe3, 0xff])).to.equal('99999999.99');
  });

  it('refuses a decimal read from a writer schema of plain bytes, which the guard cannot size', async () => {
    registry.add(9, 'bytes');
    const DecimalContract = defineEvent({ type: 'tests.Amount', channel: 'hostile', schema: 'Amount.avsc' });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      join(schemasDir, 'Amount.avsc'),
      JSON.stringify(parseSchema({ type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 }).json),
    );
    const body = frame(9, Buffer.concat([Buffer.from(varint(100_000)), Buffer.alloc(100_000, 0x22)]));
    expect((await refusal(avro.decode(body, DecimalContract))).code).to.equal('DECIMAL_OUT_OF_RANGE');
  });

  it('refuses a string that is not valid UTF-8 instead of replacing its bytes', async () => {
    const error = await refusal(decode(5, [...varint(3), 0x61, 0xff, 0xfe]));
    expect(error.code).to.equal('INVALID_UTF8');
    expect(await decode(5, [...varint(4), 0xf0, 0x9f, 0x98, 0x80])).to.equal('😀');
  });

  it('refuses a recursive record nested 100,000 deep, by the depth cap', async () => {
    const body = [...Array.from({ length: 100_000 }, () => 2), 0];
    const error = await refusal(decode(6, body));
    expect(error.code).to.equal('AVRO_LIMIT_EXCEEDED');
    expect(error.message).to.contain('limits.maxDepth');
    const shallow = [2, 2, 0];
    expect(JSON.stringify(await decode(6, shallow))).to.equal('{"next":{"next":{"next":null}}}');
  });

  it('refuses a string longer than the bytes left, an out-of-range union index, a runaway varint', async () => {
    expect((await refusal(decode(5, [...varint(1_000), 0x61]))).code).to.equal('MALFORMED_BODY');
    expect((await refusal(decode(6, [4]))).message).to.contain('union branch index 2');
    expect(
      (
        await refusal(
          decode(
            5,
            Array.from({ length: 11 }, () => 0xff),
          ),
        )
      ).message,
    ).to.contain('10 bytes');
  });

  it('applies configured caps, naming them', async () => {
    avro = new AvroSerializer({ registry, schemasDir, limits: { maxItems: 3, maxLength: 4, maxDepth: 2 } });
    expect(await decode(1, [...varint(3), 2, 4, 6, 0])).to.deep.equal([1, 2, 3]);
    expect((await refusal(decode(1, [...varint(4), 2, 4, 6, 8, 0]))).message).to.contain('limits.maxItems');
    expect((await refusal(decode(5, [...varint(5), 0x61, 0x61, 0x61, 0x61, 0x61]))).message).to.contain(
      'limits.maxLength',
    );
    expect((await refusal(decode(6, [2, 2, 0]))).message).to.contain('limits.maxDepth');
  });

  it('refuses limits that are not positive integers, naming the field', () => {
    for (const limits of [{ maxItems: 0 }, { maxLength: 1.5 }, { maxDepth: '3' }, { maxBytes: 1 }]) {
      expect(() => new AvroSerializer({ registry, schemasDir, limits: limits as never }))
        .to.throw(ConfigurationError)
        .with.property('field')
        .that.matches(/^limits\.max/);
    }
    expect(() => new AvroSerializer({ registry, schemasDir, unknownSchemaIdTtlMs: -1 }))
      .to.throw(ConfigurationError)
      .with.property('field', 'unknownSchemaIdTtlMs');
  });

  it('asks the registry once per unknown schema id while the failure is cached, each time when not', async () => {
    for (let i = 0; i < 100; i++) {
      const error = await Promise.resolve(decode(404, [0])).catch((e: unknown) => e);
      expect(error).to.have.property('code', 'UNKNOWN_SCHEMA_ID');
    }
    expect(registry.calls).to.equal(1);
    avro = new AvroSerializer({ registry, schemasDir, unknownSchemaIdTtlMs: 0 });
    for (let i = 0; i < 3; i++) await Promise.resolve(decode(404, [0])).catch(() => undefined);
    expect(registry.calls).to.equal(4);
  });
});
