import { expect } from 'chai';
import type { Envelope } from '../src/index.js';
import { uuidv7 } from '../src/index.js';
import { fromBindingHeaders, fromStructuredCloudEvent, toBindingHeaders } from '../src/transport/index.js';

const envelope: Envelope = {
  id: uuidv7(),
  type: 'orders.OrderPlaced',
  key: 'o1',
  headers: {
    specversion: '1.0',
    source: 'orders',
    datacontenttype: 'application/json',
    correlationid: 'c1',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    'omnibus-error-message': 'why',
    'x-custom': 'v',
  },
  body: Buffer.from('{}'),
};

describe('CloudEvents binary-mode binding', function () {
  it('prefixes attributes and keeps other headers as they are (Kafka style)', function () {
    const kafka = { prefix: 'ce_', contentTypeHeader: 'content-type' };
    const raw = toBindingHeaders(envelope, kafka);
    expect(raw).to.deep.equal({
      ce_id: envelope.id,
      ce_type: 'orders.OrderPlaced',
      ce_specversion: '1.0',
      ce_source: 'orders',
      'content-type': 'application/json',
      ce_correlationid: 'c1',
      ce_traceparent: envelope.headers.traceparent,
      'omnibus-error-message': 'why',
      'x-custom': 'v',
    });
    const back = fromBindingHeaders(raw, kafka);
    expect(back).to.deep.equal({ id: envelope.id, type: envelope.type, headers: envelope.headers });
  });

  it('reads the alternative AMQP prefix', function () {
    const amqp = { prefix: 'cloudEvents_', alsoRead: ['cloudEvents:'] };
    const back = fromBindingHeaders(
      { 'cloudEvents:id': '1', 'cloudEvents:type': 't', 'cloudEvents:source': 's' },
      amqp,
    );
    expect(back).to.deep.equal({ id: '1', type: 't', headers: { source: 's' } });
    expect(fromBindingHeaders({}, amqp)).to.deep.equal({ id: undefined, type: undefined, headers: {} });
  });

  it('leaves an empty id or type out instead of writing an empty CloudEvents attribute', function () {
    const kafka = { prefix: 'ce_', contentTypeHeader: 'content-type' };
    const foreign: Envelope = { id: '', type: '', headers: { 'x-custom': 'v' }, body: Buffer.from('?') };
    expect(toBindingHeaders(foreign, kafka)).to.deep.equal({ 'x-custom': 'v' });
    expect(toBindingHeaders({ ...foreign, id: 'i1' }, kafka)).to.deep.equal({ ce_id: 'i1', 'x-custom': 'v' });
  });

  it('keeps a header named __proto__ as a header and copies nothing inherited (hostile input)', function () {
    const kafka = { prefix: 'ce_', contentTypeHeader: 'content-type' };
    const wire = JSON.parse('{"ce_id":"1","ce_type":"t","__proto__":"x","ce___proto__":"y"}') as Record<
      string,
      string
    >;
    const decoded = fromBindingHeaders(wire, kafka);
    expect(Object.getPrototypeOf(decoded.headers)).to.equal(null);
    expect(Object.keys(decoded.headers).sort()).to.deep.equal(['__proto__', 'ce___proto__']);
    expect(decoded.headers['__proto__']).to.equal('x');
    const inherited = Object.create({ leaked: 'no' }) as Record<string, string>;
    inherited['x-own'] = 'yes';
    const raw = toBindingHeaders({ id: '1', type: 't', headers: inherited, body: Buffer.alloc(0) }, kafka);
    expect(Object.getPrototypeOf(raw)).to.equal(null);
    expect(Object.keys(raw).sort()).to.deep.equal(['ce_id', 'ce_type', 'x-own']);
    const again = toBindingHeaders(
      { id: '1', type: 't', headers: decoded.headers, body: Buffer.alloc(0) },
      kafka,
    );
    expect(again['__proto__']).to.equal('x');
  });

  it('understands structured mode', function () {
    const structured = Buffer.from(
      JSON.stringify({
        specversion: '1.0',
        id: 'e1',
        type: 'x.Y',
        source: 'java-svc',
        datacontenttype: 'application/json',
        data: { a: 1 },
      }),
    );
    const event = fromStructuredCloudEvent(structured)!;
    expect(event.id).to.equal('e1');
    expect(event.headers).to.include({ source: 'java-svc', specversion: '1.0' });
    expect(JSON.parse(Buffer.from(event.body).toString())).to.deep.equal({ a: 1 });
    expect(fromStructuredCloudEvent(Buffer.from('not json'))).to.equal(undefined);
    expect(fromStructuredCloudEvent(Buffer.from('{"id":1}'))).to.equal(undefined);
  });
});

describe('uuidv7', function () {
  it('is a version 7, variant 10 UUID that sorts by creation', function () {
    const ids = Array.from({ length: 5_000 }, () => uuidv7());
    for (const id of ids)
      expect(id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).to.deep.equal(ids);
    expect(new Set(ids).size).to.equal(ids.length);
    const millis = parseInt(uuidv7().replace(/-/g, '').slice(0, 12), 16);
    expect(millis).to.be.closeTo(Date.now(), 5_000);
  });

  it('stays unique and sorted when one millisecond has more ids than its 12-bit counter holds', function () {
    const now = Date.now() + 60_000; // ahead of every id made so far
    const ids = Array.from({ length: 10_000 }, () => uuidv7(now));
    expect([...ids].sort()).to.deep.equal(ids);
    expect(new Set(ids).size).to.equal(ids.length);
    const millisOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(millisOf(ids[0]!)).to.equal(now);
    expect(millisOf(ids.at(-1)!)).to.be.greaterThan(now); // the counter ran over into the next millisecond
  });
});
