import { expect } from 'chai';
import { TransportError, type Envelope } from '../../src/index.js';
import { checkMessageSizes, envelopeSize, MessageTooLargeError } from '../../src/transport/index.js';

let ids = 0;
function envelope(body: string): Envelope {
  return { id: `m-${++ids}`, type: 'test.Sized', headers: { a: 'b' }, body: new TextEncoder().encode(body) };
}

describe('checkMessageSizes', function () {
  it('passes envelopes at or under the limit', function () {
    const small = envelope('x'.repeat(10));
    expect(() => checkMessageSizes([small, small], envelopeSize(small))).not.to.throw();
    expect(() => checkMessageSizes([], 1)).not.to.throw();
  });

  it('refuses the batch with MESSAGE_TOO_LARGE naming the first envelope over the limit', function () {
    const small = envelope('x');
    const large = envelope('x'.repeat(1_000));
    const limit = envelopeSize(large) - 1;
    let thrown: unknown;
    try {
      checkMessageSizes([small, large], limit);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).to.be.instanceOf(MessageTooLargeError);
    expect(thrown).to.be.instanceOf(TransportError);
    const error = thrown as MessageTooLargeError;
    expect(error.code).to.equal('MESSAGE_TOO_LARGE');
    expect(error.retriable).to.equal(false);
    expect(error.message).to.equal(
      `message ${large.id} is ${envelopeSize(large)} bytes, over the limit of ${limit}`,
    );
  });
});
