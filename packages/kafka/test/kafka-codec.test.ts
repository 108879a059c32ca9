import { expect } from 'chai';
import type { Envelope } from '@omnibus/core';
import { Header } from '@omnibus/core';
import type { RawRecord } from '../src/kafka-codec.js';
import type { DecodeRules } from '../src/kafka-codec.js';
import {
  fromKafkaRecord as decode,
  toDeadLetterMessage,
  toKafkaMessage,
  toRetryMessage,
} from '../src/kafka-codec.js';

const mainTopic: DecodeRules = {
  fromRetryTopic: false,
  latestDueAt: Number.MAX_SAFE_INTEGER,
  maxHeaders: 128,
  maxHeaderBytes: 64 * 1024,
};
const retryTopic: DecodeRules = { ...mainTopic, fromRetryTopic: true };
const fromKafkaRecord = (record: RawRecord, rules: DecodeRules = mainTopic) => decode(record, rules);

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
    // A value repeating the last one written under its name goes as the bytes made then (a Buffer), so
    // what a header holds depends on what was encoded before: compare the text.
    const text = Object.fromEntries(
      Object.entries(message.headers ?? {}).map(([name, value]) => [
        name,
        Buffer.isBuffer(value) ? value.toString('utf8') : value,
      ]),
    );
    expect(text).to.deep.equal({
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
    const decoded = fromKafkaRecord(asRecord(retried), retryTopic);
    expect(decoded.attempt).to.equal(3);
    expect(decoded.dueAt).to.equal(1_700_000_000_000);
    expect(decoded.envelope.headers).to.not.have.property('omnibus-attempt');
    expect(decoded.envelope.id).to.equal(envelope.id);
    const again = fromKafkaRecord(asRecord(toRetryMessage(asRecord(retried), 4, 1)), retryTopic);
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
      const decoded = fromKafkaRecord(input, retryTopic);
      expect(decoded.envelope.id).to.equal('');
      expect(decoded.envelope.type).to.equal('');
      expect(decoded.attempt).to.equal(1);
      expect(decoded.dueAt).to.equal(undefined);
    }
    expect(fromKafkaRecord(inputs[2]!).envelope.headers.junk).to.equal('b');
  });

  it('honours omnibus-attempt and omnibus-due-at only on the retry topic, where only the transport writes', function () {
    const foreign: RawRecord = {
      key: Buffer.from('k'),
      value: Buffer.from('{}'),
      headers: { ce_id: 'x', ce_type: 't', 'omnibus-attempt': '7', 'omnibus-due-at': '9000000000000000' },
    };
    const onMain = fromKafkaRecord(foreign);
    expect(onMain.attempt).to.equal(1);
    expect(onMain.dueAt).to.equal(undefined);
    expect(onMain.envelope.headers).to.include({
      'omnibus-attempt': '7',
      'omnibus-due-at': '9000000000000000',
    });
    const onRetry = fromKafkaRecord(foreign, { ...retryTopic, latestDueAt: 1_000 });
    expect(onRetry.attempt).to.equal(7);
    expect(onRetry.dueAt, 'clamped to the latest due time').to.equal(1_000);
  });

  it('keeps headers named __proto__ or constructor as headers, without touching any prototype', function () {
    const headers = JSON.parse(
      '{"ce_id":"x","ce_type":"t","__proto__":"evil","constructor":"c","toString":"s","ce___proto__":"p"}',
    ) as Record<string, string>;
    const record: RawRecord = { key: null, value: Buffer.from('{}'), headers };
    const decoded = fromKafkaRecord(record);
    expect(Object.keys(decoded.envelope.headers).sort()).to.deep.equal(
      ['__proto__', 'ce___proto__', 'constructor', 'toString'].sort(),
    );
    expect(decoded.envelope.headers['__proto__']).to.equal('evil');
    const retried = toRetryMessage(record, 2, 5);
    expect(Object.getPrototypeOf(retried.headers)).to.equal(null);
    expect(Object.keys(retried.headers)).to.include('__proto__');
    expect(retried.headers['__proto__']).to.equal('evil');
    const bufferValued = toRetryMessage({ ...record, headers: { __proto__: Buffer.from('b') } }, 2, 5);
    expect(Object.keys(bufferValued.headers).sort()).to.deep.equal(['omnibus-attempt', 'omnibus-due-at']);
    const envelope = { id: 'i', type: 't', headers: decoded.envelope.headers, body: Buffer.from('') };
    expect(Object.keys(toKafkaMessage(envelope).headers)).to.include('__proto__');
  });

  it('refuses a record over the header limits before reading any header', function () {
    const many: Record<string, string> = {};
    for (let i = 0; i < 129; i++) many[`h${i}`] = 'v';
    const tooMany = fromKafkaRecord({
      key: null,
      value: Buffer.from('{}'),
      headers: { ...many, ce_id: 'x' },
    });
    expect(tooMany.refused).to.match(/130 headers, over the limit of 128/);
    expect(tooMany.envelope.headers).to.deep.equal({});
    const repeated = fromKafkaRecord({
      key: null,
      value: null,
      headers: { a: Array.from({ length: 200 }, () => Buffer.from('x')) },
    });
    expect(repeated.refused).to.match(/repeats header "a" 200 times/);
    const big = fromKafkaRecord(
      { key: null, value: null, headers: { a: Buffer.alloc(10) } },
      { ...mainTopic, maxHeaderBytes: 10 },
    );
    expect(big.refused).to.match(/over the limit of 10 bytes/);
    expect(fromKafkaRecord(asRecord(toKafkaMessage(envelope))).refused).to.equal(undefined);
  });

  it('dead-letters a record with exactly its own headers plus the failure headers', function () {
    const bare: RawRecord = { key: null, value: Buffer.from('x'), headers: { 'x-a': Buffer.from('1') } };
    const dead = toDeadLetterMessage(bare, { 'omnibus-error-code': 'E' }, true);
    expect({ ...dead.headers }).to.deep.equal({ 'x-a': Buffer.from('1'), 'omnibus-error-code': 'E' });
    const retried = asRecord(toRetryMessage(bare, 3, 9));
    expect(Object.keys(toDeadLetterMessage(retried, {}, true).headers)).to.deep.equal(['x-a']);
    expect(
      Object.keys(toDeadLetterMessage(bare, { 'omnibus-error-code': 'E' }, false).headers),
    ).to.deep.equal(['omnibus-error-code']);
  });

  it('reads headers as @platformatic/kafka gives them (a map of bytes), with the same limits and names', function () {
    const map = new Map<Buffer, Buffer>([
      [Buffer.from('ce_id'), Buffer.from('x')],
      [Buffer.from('ce_type'), Buffer.from('t')],
      [Buffer.from('__proto__'), Buffer.from('p')],
      [Buffer.from('x-rep'), Buffer.from('1')],
      [Buffer.from('x-rep'), Buffer.from('2')],
      [Buffer.from('omnibus-attempt'), Buffer.from('4')],
    ]);
    const record: RawRecord = { key: Buffer.from('k'), value: Buffer.from('{}'), headers: map };
    const decoded = fromKafkaRecord(record, retryTopic);
    expect(decoded.envelope.id).to.equal('x');
    expect(decoded.attempt).to.equal(4);
    expect(decoded.envelope.headers['__proto__']).to.equal('p');
    expect(decoded.envelope.headers['x-rep']).to.equal('2');
    expect(Object.keys(toRetryMessage(record, 5, 1).headers).sort()).to.deep.equal(
      ['__proto__', 'ce_id', 'ce_type', 'omnibus-attempt', 'omnibus-due-at', 'x-rep'].sort(),
    );
    expect(fromKafkaRecord(record, { ...mainTopic, maxHeaders: 5 }).refused).to.match(
      /6 headers, over the limit of 5/,
    );
    expect(fromKafkaRecord(record, { ...mainTopic, maxHeaderBytes: 20 }).refused).to.match(
      /over the limit of 20 bytes/,
    );
  });
});
