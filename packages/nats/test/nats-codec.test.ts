import { expect } from 'chai';
import { Header } from '@omnibus/core';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { decodeMessage, encodeEnvelope } from '../src/nats-codec.js';

describe('NATS codec', function () {
  it('escapes line breaks in header values (a dead letter stack), which NATS headers cannot carry', function () {
    const stack = 'NonRetriableError: invalid amount\n    at process (payment-handlers.js:1:1)\r\n    at x';
    const encoded = encodeEnvelope({
      id: 'm1',
      type: 't.Happened',
      headers: { [Header.contentType]: 'application/json', [Header.errorStack]: stack },
      body: new Uint8Array([123, 125]),
    });
    const decoded = decodeMessage(encoded.headers, encoded.data);
    expect(decoded.headers[Header.errorStack]).to.equal(
      'NonRetriableError: invalid amount\\n    at process (payment-handlers.js:1:1)\\n    at x',
    );
  });

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
