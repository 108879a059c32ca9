import { expect } from 'chai';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { decodeMessage, encodeEnvelope } from '../src/nats-codec.js';

describe('NATS codec', function () {
  it('writes no empty ce-id or ce-type for a foreign message without them (#15.1)', function () {
    const encoded = encodeEnvelope({
      id: '',
      type: '',
      headers: { 'x-custom': 'v' },
      body: Buffer.from('?'),
    });
    expect([...encoded.headers.keys()]).to.deep.equal(['x-custom']);
  });

  it('keeps a __proto__ header as a header and leaks nothing inherited (hostile input, #16.7)', function () {
    const wire = natsHeaders();
    wire.set('ce-id', '1');
    wire.set('ce-type', 't');
    wire.set('__proto__', 'x');
    const envelope = decodeMessage(wire, Buffer.from('{}'));
    expect(Object.getPrototypeOf(envelope.headers)).to.equal(null);
    expect(Object.keys(envelope.headers)).to.deep.equal(['__proto__']);
    expect(envelope.headers['__proto__']).to.equal('x');
    const encoded = encodeEnvelope(envelope);
    expect(encoded.headers.get('__proto__')).to.equal('x');
  });
});
