import { expect } from 'chai';
import type { Envelope } from '@omnibus/core';
import { Header } from '@omnibus/core';
import type { RawRecord } from '../src/record-codec.js';
import { fromKafkaRecord, toKafkaMessage, toRetryMessage } from '../src/record-codec.js';

function asRecord(message: ReturnType<typeof toKafkaMessage>): RawRecord {
  const headers: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(message.headers ?? {}))
    headers[name] = Buffer.from(String(value));
  return {
    key: message.key === null || message.key === undefined ? null : Buffer.from(message.key),
    value: message.value === null ? null : Buffer.from(message.value),
    headers,
  };
}

describe('Kafka record codec', function () {
  const envelope: Envelope = {
    id: '0190a5c2-0000-7000-8000-000000000001',
    type: 'orders.OrderPlaced',
    key: 'order-42',
    headers: {
      [Header.specVersion]: '1.0',
      [Header.contentType]: 'application/json',
      [Header.source]: 'orders',
      tenant: 'acme',
      'x-trace': 'a=b',
    },
    body: Buffer.from('{"total":10}'),
  };

  it('writes CloudEvents binary mode: ce_ headers, content-type, the key as record key', function () {
    const message = toKafkaMessage(envelope);
    expect(message.key).to.equal('order-42');
    expect(message.headers).to.deep.equal({
      ce_id: envelope.id,
      ce_type: 'orders.OrderPlaced',
      ce_specversion: '1.0',
      'content-type': 'application/json',
      ce_source: 'orders',
      ce_tenant: 'acme',
      'x-trace': 'a=b',
    });
  });

  it('reads back what it writes, losslessly', function () {
    const decoded = fromKafkaRecord(asRecord(toKafkaMessage(envelope)));
    expect(decoded.attempt).to.equal(1);
    expect(decoded.dueAt).to.equal(undefined);
    expect(decoded.envelope).to.deep.equal({ ...envelope, body: decoded.envelope.body });
    expect(Buffer.from(decoded.envelope.body).toString()).to.equal('{"total":10}');
  });

  it('carries the attempt and due time of a retried record, outside the envelope', function () {
    const retried = toRetryMessage(asRecord(toKafkaMessage(envelope)), 3, 1_700_000_000_000);
    const decoded = fromKafkaRecord(asRecord(retried));
    expect(decoded.attempt).to.equal(3);
    expect(decoded.dueAt).to.equal(1_700_000_000_000);
    expect(decoded.envelope.headers).to.not.have.property('omnibus-attempt');
    expect(decoded.envelope.id).to.equal(envelope.id);
    const again = fromKafkaRecord(asRecord(toRetryMessage(asRecord(retried), 4, 1)));
    expect(again.attempt).to.equal(4);
  });

  it('understands a structured-mode CloudEvent from another producer', function () {
    const event = { specversion: '1.0', id: 'e-1', type: 'legacy.Thing', source: 'java-app', data: { a: 1 } };
    const decoded = fromKafkaRecord({
      key: Buffer.from('k-1'),
      value: Buffer.from(JSON.stringify(event)),
      headers: {
        'content-type': Buffer.from('application/cloudevents+json; charset=UTF-8'),
        'x-extra': 'yes',
      },
    });
    expect(decoded.envelope.id).to.equal('e-1');
    expect(decoded.envelope.type).to.equal('legacy.Thing');
    expect(decoded.envelope.key).to.equal('k-1');
    expect(decoded.envelope.headers).to.include({
      source: 'java-app',
      'x-extra': 'yes',
      datacontenttype: 'application/json',
    });
    expect(JSON.parse(Buffer.from(decoded.envelope.body).toString())).to.deep.equal({ a: 1 });
  });

  it('turns anything else into an envelope without id or type, never throwing', function () {
    const inputs: RawRecord[] = [
      { key: null, value: null },
      { key: null, value: Buffer.from([0xff, 0x00, 0xfe]) },
      {
        key: Buffer.from([0xc3]),
        value: Buffer.from('x'),
        headers: { junk: [Buffer.from('a'), Buffer.from('b')], gone: undefined },
      },
      {
        key: null,
        value: Buffer.from('not json'),
        headers: { 'content-type': 'application/cloudevents+json' },
      },
      {
        key: null,
        value: Buffer.from('1'),
        headers: { 'omnibus-attempt': 'many', 'omnibus-due-at': 'later' },
      },
    ];
    for (const input of inputs) {
      const decoded = fromKafkaRecord(input);
      expect(decoded.envelope.id).to.equal('');
      expect(decoded.envelope.type).to.equal('');
      expect(decoded.attempt).to.equal(1);
      expect(decoded.dueAt).to.equal(undefined);
    }
    expect(fromKafkaRecord(inputs[2]!).envelope.headers.junk).to.equal('b');
  });
});
