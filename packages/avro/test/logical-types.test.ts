import { expect } from 'chai';
import { parseSchema } from '../src/index.js';

const decimalOf = (type: unknown) =>
  parseSchema({ type: 'record', name: 'D', fields: [{ name: 'v', type }] }).type;
const bytesDecimal = decimalOf({ type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 });

describe('logical types', () => {
  describe('decimal', () => {
    it('round-trips exact values as strings, written at the schema scale', () => {
      const cases: [string, string][] = [
        ['0', '0.00'],
        ['0.01', '0.01'],
        ['-0.01', '-0.01'],
        ['1.5', '1.50'],
        ['1.230', '1.23'],
        ['+7', '7.00'],
        ['127', '127.00'],
        ['-128', '-128.00'],
        ['-129.99', '-129.99'],
        ['9999999999.99', '9999999999.99'],
        ['-9999999999.99', '-9999999999.99'],
      ];
      for (const [input, output] of cases) {
        expect(bytesDecimal.fromBuffer(bytesDecimal.toBuffer({ v: input })), input).to.deep.include({
          v: output,
        });
      }
    });

    it('writes the unscaled value in minimal big-endian two’s complement (interoperable bytes)', () => {
      const raw = parseSchema({ type: 'record', name: 'D', fields: [{ name: 'v', type: 'bytes' }] }).type;
      const read = (value: string) => [
        ...(raw.fromBuffer(bytesDecimal.toBuffer({ v: value })) as { v: Buffer }).v,
      ];
      expect(read('1.00')).to.deep.equal([100]);
      expect(read('-1.00')).to.deep.equal([0x9c]);
      expect(read('1.28')).to.deep.equal([0, 128]);
      expect(read('-1.29')).to.deep.equal([0xff, 0x7f]);
    });

    it('refuses values that would lose digits, overflow the precision or are not decimal strings', () => {
      for (const bad of ['1.234', '99999999999.00', '1e3', '12,50', '', ' 1', 12.5, null]) {
        expect(bytesDecimal.isValid({ v: bad }), String(bad)).to.equal(false);
        expect(() => bytesDecimal.toBuffer({ v: bad }), String(bad)).to.throw();
      }
    });

    it('works on fixed, sign-extended to the fixed size', () => {
      const fixed = decimalOf({
        type: 'fixed',
        name: 'Money',
        size: 8,
        logicalType: 'decimal',
        precision: 18,
        scale: 4,
      });
      const buffer = fixed.toBuffer({ v: '-3.1416' });
      expect(buffer.length).to.equal(8);
      expect(fixed.fromBuffer(buffer)).to.deep.include({ v: '-3.1416' });
    });

    it('reads data written at another scale as the same number', () => {
      const scale4 = decimalOf({ type: 'bytes', logicalType: 'decimal', precision: 14, scale: 4 });
      const resolver = bytesDecimal.createResolver(scale4);
      expect(bytesDecimal.fromBuffer(scale4.toBuffer({ v: '12.3400' }), resolver)).to.deep.include({
        v: '12.34',
      });
      expect(() => void bytesDecimal.fromBuffer(scale4.toBuffer({ v: '12.3456' }), resolver)).to.throw(
        /does not fit/,
      );
    });

    it('an invalid decimal is refused when strict, read as its underlying type otherwise', () => {
      const schema = { type: 'bytes', logicalType: 'decimal', precision: 2, scale: 3 };
      expect(() => parseSchema(schema, { strictLogicalTypes: true }))
        .to.throw()
        .with.property('code', 'INVALID_SCHEMA');
      expect(parseSchema(schema).type.typeName).to.equal('bytes');
    });
  });

  describe('timestamp-millis', () => {
    const type = parseSchema({ type: 'long', logicalType: 'timestamp-millis' }).type;

    it('round-trips Dates to the millisecond', () => {
      const date = new Date('2024-02-29T12:34:56.789Z');
      const read = type.fromBuffer(type.toBuffer(date)) as Date;
      expect(read).to.be.instanceOf(Date);
      expect(read.toISOString()).to.equal(date.toISOString());
    });

    it('refuses what is not a valid Date', () => {
      for (const bad of [Date.now(), '2024-01-01T00:00:00Z', new Date('nope'), null]) {
        expect(type.isValid(bad), String(bad)).to.equal(false);
      }
    });

    it('reads a plain long written by a client without logical types', () => {
      const long = parseSchema('"long"').type;
      expect(
        (type.fromBuffer(long.toBuffer(86_400_000), type.createResolver(long)) as Date).toISOString(),
      ).to.equal('1970-01-02T00:00:00.000Z');
    });
  });

  describe('uuid', () => {
    const type = parseSchema({ type: 'string', logicalType: 'uuid' }).type;

    it('round-trips canonical uuid strings and refuses other strings', () => {
      const id = '0190f0c2-7a3b-7c1d-8e2f-123456789abc';
      expect(type.fromBuffer(type.toBuffer(id))).to.equal(id);
      expect(type.isValid('not-a-uuid')).to.equal(false);
      expect(type.isValid('0190f0c27a3b7c1d8e2f123456789abc')).to.equal(false);
    });
  });
});
