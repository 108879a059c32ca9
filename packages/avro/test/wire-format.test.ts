import { expect } from 'chai';
import { DeserializationError } from '@omnibus/core';
import { frame, unframe } from '../src/index.js';

describe('Confluent wire format', () => {
  it('is the magic byte, the id as 4 big-endian bytes, then the Avro bytes', () => {
    const body = frame(0x01020304, Uint8Array.from([9, 8, 7]));
    expect([...body]).to.deep.equal([0, 1, 2, 3, 4, 9, 8, 7]);
    const { schemaId, avro } = unframe(body);
    expect(schemaId).to.equal(0x01020304);
    expect([...avro]).to.deep.equal([9, 8, 7]);
  });

  it('reads a body that is a view into a larger buffer', () => {
    const backing = Buffer.from([0xff, 0xff, 0, 0, 0, 0, 42, 1, 0xff]);
    const { schemaId, avro } = unframe(backing.subarray(2, 8));
    expect(schemaId).to.equal(42);
    expect([...avro]).to.deep.equal([1]);
  });

  it('refuses a body without the magic byte', () => {
    expect(() => unframe(Buffer.from('{"json":true}')))
      .to.throw(DeserializationError)
      .with.property('code', 'INVALID_WIRE_FORMAT');
  });

  it('refuses a body too short for the header', () => {
    for (const body of [new Uint8Array(0), Uint8Array.from([0, 0, 0, 1])]) {
      expect(() => unframe(body))
        .to.throw(DeserializationError)
        .with.property('code', 'INVALID_WIRE_FORMAT');
    }
  });
});
