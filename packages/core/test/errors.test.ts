import { expect } from 'chai';
import type { OmnibusError } from '../src/index.js';
import {
  CircuitOpenError,
  ConcurrencyError,
  DeserializationError,
  NonRetriableError,
  SchemaError,
  TimeoutError,
  TransportError,
  isOmnibusError,
  toOmnibusError,
} from '../src/index.js';

describe('errors', function () {
  it('give each case a code and a retriable flag', function () {
    const table: [OmnibusError, string, boolean][] = [
      [new NonRetriableError('x'), 'NON_RETRIABLE', false],
      [new DeserializationError('x'), 'DESERIALIZATION_FAILED', false],
      [new SchemaError('x'), 'SCHEMA_ERROR', false],
      [new ConcurrencyError('x'), 'CONCURRENCY_CONFLICT', true],
      [new TransportError('x'), 'TRANSPORT_ERROR', true],
      [new TimeoutError('x'), 'TIMEOUT', true],
      [new CircuitOpenError('x'), 'CIRCUIT_OPEN', true],
    ];
    for (const [error, code, retriable] of table) {
      expect(error.code, error.name).to.equal(code);
      expect(error.retriable, error.name).to.equal(retriable);
      expect(isOmnibusError(error)).to.equal(true);
      expect(error).to.be.instanceOf(Error);
    }
  });

  it('normalise anything thrown, keeping the cause', function () {
    const plain = new RangeError('out of range');
    const normalised = toOmnibusError(plain);
    expect(normalised.code).to.equal('HANDLER_ERROR');
    expect(normalised.retriable).to.equal(true);
    expect(normalised.cause).to.equal(plain);
    expect(normalised.stack).to.equal(plain.stack);
    expect(toOmnibusError('boom').message).to.equal('non-error value thrown: "boom"');
    expect(toOmnibusError(undefined).code).to.equal('NON_ERROR_THROWN');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(toOmnibusError(cyclic).message).to.contain('object');
    const ours = new SchemaError('bad');
    expect(toOmnibusError(ours)).to.equal(ours);
  });
});
