import { expect } from 'chai';
import type { Message } from 'rhea';
import { decodeMessage, encodeEnvelope } from '../src/amqp10-codec.js';

describe('AMQP 1.0 codec', function () {
  it('writes no empty CloudEvents id or type and no empty message-id for a foreign message (#15.1)', function () {
    const message = encodeEnvelope({
      id: '',
      type: '',
      headers: { 'x-custom': 'v' },
      body: Buffer.from('?'),
    });
    expect(message.message_id).to.equal(undefined);
    expect(Object.keys(message.application_properties as object)).to.deep.equal(['x-custom']);
  });

  it('keeps a __proto__ application property as a header and leaks nothing inherited (hostile input, #16.7)', function () {
    const properties = JSON.parse('{"cloudEvents:id":"1","cloudEvents:type":"t","__proto__":"x"}') as Record<
      string,
      unknown
    >;
    const message = { application_properties: properties, body: Buffer.from('{}') } as unknown as Message;
    const { envelope } = decodeMessage(message);
    expect(Object.getPrototypeOf(envelope.headers)).to.equal(null);
    expect(Object.keys(envelope.headers)).to.deep.equal(['__proto__']);
    const encoded = encodeEnvelope(envelope);
    expect((encoded.application_properties as Record<string, unknown>)['__proto__']).to.equal('x');
  });
});
