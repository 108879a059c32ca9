import { expect } from 'chai';
import type { Envelope } from '@omnibus/core';
import { Header } from '@omnibus/core';
import type { AttributeValue } from '../src/aws-codec.js';
import {
  BODY_ENCODING_ATTRIBUTE,
  decodeMessage,
  encodeMessage,
  MAX_ATTRIBUTES,
  MAX_MESSAGE_BYTES,
  KEY_ATTRIBUTE,
  PACKED_ATTRIBUTE,
} from '../src/aws-codec.js';

function envelope(overrides: Partial<Envelope> = {}): Envelope {
  return {
    id: '0193a1b2-0000-7000-8000-000000000001',
    type: 'orders.OrderPlaced',
    headers: { [Header.specVersion]: '1.0', [Header.contentType]: 'application/json' },
    body: Buffer.from('{"orderId":"o-1"}'),
    ...overrides,
  };
}

function roundTrip(sent: Envelope): Envelope {
  const encoded = encodeMessage(sent);
  return decodeMessage({ body: encoded.body, attributes: encoded.attributes });
}

function expectSame(got: Envelope, sent: Envelope): void {
  expect({ ...got, body: undefined }).to.deep.equal({ ...sent, body: undefined });
  expect(Buffer.from(got.body).equals(Buffer.from(sent.body))).to.equal(true);
}

describe('SQS/SNS message codec', function () {
  it('writes CloudEvents attributes one each while they fit in 10', function () {
    const encoded = encodeMessage(envelope({ key: 'o-1' }));
    expect(encoded.body).to.equal('{"orderId":"o-1"}');
    expect(Object.keys(encoded.attributes).sort()).to.deep.equal(
      ['ce-id', 'ce-specversion', 'ce-type', 'content-type', 'omnibus-key'].sort(),
    );
    expect(encoded.attributes['ce-type']).to.deep.equal({
      DataType: 'String',
      StringValue: 'orders.OrderPlaced',
    });
  });

  it('packs what does not fit into one JSON attribute, keeping the first nine by priority, losslessly', function () {
    const headers: Record<string, string> = {
      [Header.specVersion]: '1.0',
      [Header.contentType]: 'application/json',
      [Header.source]: 'orders',
      [Header.time]: '2026-01-01T00:00:00.000Z',
      [Header.subject]: 'o-1',
      [Header.correlationId]: 'c-1',
      [Header.causationId]: 'c-0',
      [Header.traceParent]: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      [Header.traceState]: 'congo=t61rcWkgMzE',
      tenant: 'acme',
      'x-custom': 'value with spaces, ünïcödé and = signs',
    };
    const sent = envelope({ key: 'o-1', headers });
    const encoded = encodeMessage(sent);
    const names = Object.keys(encoded.attributes);
    expect(names).to.have.length(MAX_ATTRIBUTES);
    expect(names).to.deep.equal([
      'ce-id',
      'ce-type',
      'ce-source',
      'ce-specversion',
      'content-type',
      KEY_ATTRIBUTE,
      'ce-time',
      'ce-subject',
      'ce-correlationid',
      PACKED_ATTRIBUTE,
    ]);
    const packed = JSON.parse(encoded.attributes[PACKED_ATTRIBUTE]!.StringValue!) as Record<string, string>;
    expect(packed).to.include({
      'ce-tenant': 'acme',
      'ce-traceparent': headers[Header.traceParent],
      'ce-tracestate': 'congo=t61rcWkgMzE',
    });
    expectSame(roundTrip(sent), sent);
  });

  it('keeps the key in its own attribute before custom headers (#15.4)', function () {
    const headers: Record<string, string> = { [Header.specVersion]: '1.0' };
    for (let i = 0; i < 12; i++) headers[`x-custom-${i}`] = `v${i}`;
    const encoded = encodeMessage(envelope({ key: 'o-1', headers }));
    expect(encoded.attributes[KEY_ATTRIBUTE]).to.deep.equal({ DataType: 'String', StringValue: 'o-1' });
    const packed = JSON.parse(encoded.attributes[PACKED_ATTRIBUTE]!.StringValue!) as Record<string, string>;
    expect(packed).to.not.have.property(KEY_ATTRIBUTE);
    expect(packed).to.include({ 'x-custom-11': 'v11' });
  });

  it('keeps a __proto__ attribute as a header and leaks nothing inherited (hostile input, #16.7)', function () {
    const attributes = JSON.parse(
      '{"ce-id":{"DataType":"String","StringValue":"1"},"ce-type":{"DataType":"String","StringValue":"t"},' +
        '"__proto__":{"DataType":"String","StringValue":"x"}}',
    ) as Record<string, AttributeValue>;
    const decoded = decodeMessage({ body: '{}', attributes });
    expect(Object.getPrototypeOf(decoded.headers)).to.equal(null);
    expect(Object.keys(decoded.headers)).to.deep.equal(['__proto__']);
    const encoded = encodeMessage(decoded);
    expect(Object.getPrototypeOf(encoded.attributes)).to.equal(null);
    expect(Object.keys(encoded.attributes)).to.deep.equal(['ce-id', 'ce-type', '__proto__']);
    expectSame(roundTrip(decoded), decoded);
  });

  it('writes no empty ce-id or ce-type for a foreign message without them (a dead-letter copy, #15.1)', function () {
    const encoded = encodeMessage({ id: '', type: '', headers: { 'x-custom': 'v' }, body: Buffer.from('?') });
    expect(Object.keys(encoded.attributes)).to.deep.equal(['x-custom']);
  });

  it('packs empty values and names SQS refuses even when there are few', function () {
    const sent = envelope({
      headers: {
        [Header.specVersion]: '1.0',
        empty: '',
        'has space': 'x',
        'AWS.reserved': 'y',
        'a..b': 'z',
        ctl: 'a\u0001b',
      },
    });
    const encoded = encodeMessage(sent);
    const packed = JSON.parse(encoded.attributes[PACKED_ATTRIBUTE]!.StringValue!) as Record<string, string>;
    expect(packed).to.deep.equal({
      'ce-empty': '',
      'has space': 'x',
      'AWS.reserved': 'y',
      'a..b': 'z',
      'ce-ctl': 'a\u0001b',
    });
    expectSame(roundTrip(sent), sent);
  });

  it('carries non-text bodies as base64 and an empty body with a marker', function () {
    const binary = envelope({ body: Buffer.from([0xff, 0x00, 0x80, 0x7b]) });
    const encoded = encodeMessage(binary);
    expect(encoded.attributes[BODY_ENCODING_ATTRIBUTE]?.StringValue).to.equal('base64');
    expect(encoded.body).to.equal(Buffer.from([0xff, 0x00, 0x80, 0x7b]).toString('base64'));
    expectSame(roundTrip(binary), binary);
    // Valid UTF-8 that SQS still refuses (a control character) goes as base64 too.
    const control = envelope({ body: Buffer.from('a\u0000b') });
    expect(encodeMessage(control).attributes[BODY_ENCODING_ATTRIBUTE]?.StringValue).to.equal('base64');
    expectSame(roundTrip(control), control);
    const empty = envelope({ body: new Uint8Array(0) });
    expect(encodeMessage(empty).attributes[BODY_ENCODING_ATTRIBUTE]?.StringValue).to.equal('empty');
    expectSame(roundTrip(empty), empty);
    const bom = envelope({ body: Buffer.from('\ufeff{}', 'utf8') });
    expect(encodeMessage(bom).attributes[BODY_ENCODING_ATTRIBUTE]).to.equal(undefined);
    expectSame(roundTrip(bom), bom);
  });

  it('counts body and attribute bytes as SQS does', function () {
    const encoded = encodeMessage(envelope({ headers: {}, body: Buffer.from('é') }));
    const expected =
      2 +
      Object.entries(encoded.attributes).reduce(
        (sum, [name, value]) => sum + name.length + 'String'.length + Buffer.byteLength(value.StringValue!),
        0,
      );
    expect(encoded.size).to.equal(expected);
    expect(encodeMessage(envelope({ body: Buffer.alloc(MAX_MESSAGE_BYTES, 'x') })).size).to.be.greaterThan(
      MAX_MESSAGE_BYTES,
    );
  });

  it('reads a message with no attributes and a garbage body as an envelope with no id and type', function () {
    const got = decodeMessage({ body: 'garbage {{{', attributes: undefined });
    expect(got).to.deep.include({ id: '', type: '', headers: {} });
    expect(Buffer.from(got.body).toString()).to.equal('garbage {{{');
    expect(decodeMessage({ body: undefined, attributes: {} })).to.deep.include({ id: '', type: '' });
  });

  it('unwraps an SNS JSON envelope (no raw delivery), binary attributes included', function () {
    const body = JSON.stringify({
      Type: 'Notification',
      MessageId: 'm-1',
      TopicArn: 'arn:aws:sns:us-east-1:123456789012:orders',
      Message: '{"orderId":"o-1"}',
      MessageAttributes: {
        'ce-id': { Type: 'String', Value: 'id-1' },
        'ce-type': { Type: 'String', Value: 'orders.OrderPlaced' },
        'content-type': { Type: 'String', Value: 'application/json' },
        [PACKED_ATTRIBUTE]: { Type: 'String', Value: '{"tenant":"acme","omnibus-key":"o-1"}' },
        blob: { Type: 'Binary', Value: Buffer.from([1, 2]).toString('base64') },
        count: { Type: 'Number', Value: '3' },
      },
    });
    const got = decodeMessage({ body, attributes: {} });
    expect(got.id).to.equal('id-1');
    expect(got.type).to.equal('orders.OrderPlaced');
    expect(got.key).to.equal('o-1');
    expect(got.headers).to.deep.equal({
      [Header.contentType]: 'application/json',
      tenant: 'acme',
      blob: 'AQI=',
      count: '3',
    });
    expect(Buffer.from(got.body).toString()).to.equal('{"orderId":"o-1"}');
  });

  it('leaves a body that only looks like an SNS envelope alone when attributes came with it', function () {
    const body = JSON.stringify({ Type: 'Notification', Message: 'x', TopicArn: 'arn' });
    const got = decodeMessage({
      body,
      attributes: {
        'ce-id': { DataType: 'String', StringValue: 'i' },
        'ce-type': { DataType: 'String', StringValue: 't' },
      },
    });
    expect(Buffer.from(got.body).toString()).to.equal(body);
  });

  it('reads a structured-mode CloudEvent body', function () {
    const got = decodeMessage({
      body: JSON.stringify({ specversion: '1.0', id: 'e-1', type: 'x.Y', source: 'java', data: { a: 1 } }),
      attributes: undefined,
    });
    expect(got).to.deep.include({ id: 'e-1', type: 'x.Y' });
    expect(got.headers).to.include({
      source: 'java',
      specversion: '1.0',
      datacontenttype: 'application/json',
    });
    expect(JSON.parse(Buffer.from(got.body).toString())).to.deep.equal({ a: 1 });
  });

  it('reads the ce_ spelling and keeps foreign attributes as headers', function () {
    const attributes: Record<string, AttributeValue> = {
      ce_id: { DataType: 'String', StringValue: 'u-1' },
      ce_type: { DataType: 'String', StringValue: 'x.Y' },
      ce_source: { DataType: 'String', StringValue: 'bridge' },
      price: { DataType: 'Number', StringValue: '9.5' },
      raw: { DataType: 'Binary', BinaryValue: new Uint8Array([255]) },
    };
    const got = decodeMessage({ body: '{}', attributes });
    expect(got).to.deep.include({ id: 'u-1', type: 'x.Y' });
    expect(got.headers).to.deep.equal({ source: 'bridge', price: '9.5', raw: '/w==' });
  });

  it('keeps a packed attribute that is not a JSON object of strings as it is', function () {
    for (const value of ['not json', '[1,2]', '{"a":1}']) {
      const got = decodeMessage({
        body: '{}',
        attributes: { [PACKED_ATTRIBUTE]: { DataType: 'String', StringValue: value } },
      });
      expect(got.headers[PACKED_ATTRIBUTE]).to.equal(value);
    }
  });
});
