import { expect } from 'chai';
import { JsonSerializer, SchemaError, defineEvent } from '../src/index.js';

const Contract = defineEvent<unknown>({ type: 'orders.OrderPlaced', channel: 'orders' });
const json = new JsonSerializer();

function failure(payload: unknown): SchemaError {
  try {
    json.encode(payload, Contract);
  } catch (error) {
    expect(error).to.be.instanceOf(SchemaError);
    return error as SchemaError;
  }
  throw new Error('encode did not fail');
}

describe('JsonSerializer', function () {
  it('round-trips a payload', function () {
    const payload = { orderId: 'o-1', lines: [{ sku: 'a', price: 2.5 }], note: null };
    expect(json.decode(json.encode(payload, Contract), Contract)).to.deep.equal(payload);
  });

  it('names the BigInt that cannot be written, with its path', function () {
    const error = failure({ orderId: 'o-1', lines: [{ price: 1 }, { price: 2 }, { price: 3n }] });
    expect(error.message).to.equal(
      'orders.OrderPlaced: payload cannot be written as JSON: payload.lines[2].price is a BigInt',
    );
    expect(error.code).to.equal('SCHEMA_ERROR');
    expect(error.retriable).to.equal(false);
    expect(error.cause).to.be.instanceOf(TypeError);
  });

  it('names where a cycle closes', function () {
    const order: Record<string, unknown> = { orderId: 'o-1' };
    const customer: Record<string, unknown> = { name: 'Ada', orders: [order] };
    order.customer = customer;
    expect(failure({ order }).message).to.equal(
      'orders.OrderPlaced: payload cannot be written as JSON: ' +
        'payload.order.customer.orders[0] refers back to payload.order (a cycle)',
    );
  });

  it('says when the payload itself is undefined, a function or a symbol', function () {
    expect(failure(undefined).message).to.match(/: payload is undefined$/);
    expect(failure(() => 1).message).to.match(/: payload is a function$/);
    expect(failure(Symbol('x')).message).to.match(/: payload is a symbol$/);
  });

  it('quotes keys that are not identifiers', function () {
    expect(failure({ 'unit price': { 'a-b': 1n } }).message).to.match(
      /: payload\["unit price"\]\["a-b"\] is a BigInt$/,
    );
  });

  it('reports a toJSON that throws, and follows what toJSON returns', function () {
    const broken = {
      toJSON() {
        throw new Error('not ready');
      },
    };
    expect(failure({ at: broken }).message).to.match(/: payload\.at\.toJSON\(\) threw: not ready$/);
    const wrapped = { toJSON: () => ({ amount: 5n }) };
    expect(failure({ total: wrapped }).message).to.match(/: payload\.total\.amount is a BigInt$/);
  });

  it('writes what JSON.stringify leaves out or turns to null, as JSON does', function () {
    const payload = { skip: undefined, fn: () => 1, list: [undefined, () => 1], at: new Date(0) };
    expect(json.decode(json.encode(payload, Contract), Contract)).to.deep.equal({
      list: [null, null],
      at: '1970-01-01T00:00:00.000Z',
    });
  });

  it('keeps a shared (not cyclic) object writable', function () {
    const address = { city: 'Oslo' };
    expect(
      json.decode(json.encode({ billing: address, shipping: address }, Contract), Contract),
    ).to.deep.equal({
      billing: address,
      shipping: address,
    });
  });
});
