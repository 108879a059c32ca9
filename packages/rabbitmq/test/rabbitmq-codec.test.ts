import { expect } from 'chai';
import type { Message, MessageProperties } from 'amqplib';
import type { Envelope } from '@omnibus/core';
import { Header, signingKeys } from '@omnibus/core';
import { sealAttempt } from '@omnibus/core/transport';
import { ATTEMPT_HEADER, decodeMessage, encodeEnvelope, headerText } from '../src/rabbitmq-codec.js';

/** Our retry route's exchange (RabbitMqNames.retryExchange with no prefix). */
const RETRY = 'omnibus/retry';

function received(
  content: Buffer,
  properties: Partial<Omit<MessageProperties, 'headers'>> & { headers?: Record<string, unknown> },
  fields: { redelivered?: boolean; exchange?: string } = {},
): Message {
  return {
    content,
    fields: { deliveryTag: 1, redelivered: false, exchange: '', routingKey: 'q', ...fields },
    properties: { headers: {}, ...properties } as MessageProperties,
  };
}

/** What the broker hands back for what we published. */
function roundTrip(envelope: Envelope, attempt = 1) {
  const { content, options } = encodeEnvelope(envelope, attempt);
  return decodeMessage(
    received(content, {
      headers: options.headers,
      contentType: options.contentType,
      messageId: options.messageId,
    }),
  );
}

describe('AMQP message binding', function () {
  const envelope: Envelope = {
    id: '0190b6a8-0000-7000-8000-000000000001',
    type: 'orders.OrderPlaced',
    key: 'order-1',
    headers: {
      [Header.specVersion]: '1.0',
      [Header.contentType]: 'application/json',
      [Header.traceParent]: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tenant: 'acme',
      'x-custom': 'v = 1',
    },
    body: Buffer.from('{"orderId":"order-1"}'),
  };

  it('writes CloudEvents binary mode: cloudEvents_ headers, content-type and message-id properties', function () {
    const { content, options } = encodeEnvelope(envelope);
    expect(options).to.include({
      persistent: true,
      mandatory: true,
      messageId: envelope.id,
      contentType: 'application/json',
    });
    expect(options.headers).to.deep.equal({
      cloudEvents_id: envelope.id,
      cloudEvents_type: 'orders.OrderPlaced',
      cloudEvents_specversion: '1.0',
      cloudEvents_traceparent: envelope.headers[Header.traceParent],
      cloudEvents_tenant: 'acme',
      cloudEvents_partitionkey: 'order-1',
      'x-custom': 'v = 1',
    });
    expect(content.toString()).to.equal('{"orderId":"order-1"}');
  });

  it('round-trips id, type, key, headers and body', function () {
    const decoded = roundTrip(envelope);
    expect(decoded.envelope).to.deep.equal(envelope);
    expect(decoded.attempt).to.equal(1);
    expect(decoded.death).to.equal(undefined);
  });

  it('carries the attempt of a retried copy, plus failed deliveries counted by the quorum queue', function () {
    expect(encodeEnvelope(envelope, 3).options.headers[ATTEMPT_HEADER]).to.equal(3);
    expect(roundTrip(envelope, 3).attempt).to.equal(3);
    const { content, options } = encodeEnvelope(envelope, 2);
    const redelivered = decodeMessage(
      received(
        content,
        { headers: { ...options.headers, 'x-delivery-count': 2 }, contentType: 'application/json' },
        { redelivered: true, exchange: RETRY },
      ),
      { queue: 'q', keys: undefined, retryExchange: RETRY },
    );
    expect(redelivered.attempt).to.equal(4);
    expect(redelivered.envelope.headers).not.to.have.property(ATTEMPT_HEADER);
    expect(redelivered.envelope.headers).not.to.have.property('x-delivery-count');
  });

  it('believes no attempt count a producer wrote (#16.6)', function () {
    const { content, options } = encodeEnvelope(envelope, 5);
    const headers = { ...options.headers, 'x-delivery-count': 7 };
    const trust = { queue: 'q', keys: undefined, retryExchange: RETRY };
    // A first delivery carries whatever the producer wrote in x-delivery-count; through our retry exchange
    // the attempt header is ours.
    expect(decodeMessage(received(content, { headers }, { exchange: RETRY }), trust).attempt).to.equal(5);
    // Through a channel's exchange or straight to the queue (the default exchange): not our retry route,
    // whatever x-death claims.
    expect(decodeMessage(received(content, { headers }, { exchange: 'orders' }), trust).attempt).to.equal(1);
    const death = [{ reason: 'expired', queue: 'q.delay.128', count: 1 }];
    const dead = { headers: { ...headers, 'x-death': death } };
    expect(decodeMessage(received(content, dead), trust).attempt).to.equal(1);
    const keys = signingKeys({ keys: { k: 'a-key-of-at-least-thirty-two-bytes!!' }, signWith: 'k' });
    const signed = { queue: 'q', keys, retryExchange: RETRY };
    expect(decodeMessage(received(content, { headers }), signed).attempt, 'unsealed').to.equal(1);
    const sealed = encodeEnvelope(envelope, 5, sealAttempt(envelope.id, 'q', 5, keys));
    expect(decodeMessage(received(sealed.content, sealed.options), signed).attempt).to.equal(5);
    expect(
      decodeMessage(received(sealed.content, sealed.options), { ...signed, queue: 'other' }).attempt,
    ).to.equal(1);
    expect(
      decodeMessage(received(sealed.content, sealed.options), signed).envelope.headers,
    ).not.to.have.property('omnibus-attempt-seal');
  });

  it('reads a foreign message: cloudEvents: prefix, AMQP properties, typed values', function () {
    const decoded = decodeMessage(
      received(Buffer.from('{}'), {
        messageId: 'm-1',
        type: 'foreign.Type',
        contentType: 'application/json; charset=utf-8',
        headers: {
          'cloudEvents:source': 'java',
          'cloudEvents:time': '2024-01-01T00:00:00Z',
          count: 3,
          flag: false,
          bytes: Buffer.from('text'),
          stamp: { '!': 'timestamp', value: 1_700_000_000 },
          price: { '!': 'decimal', value: { places: 2, digits: 1234 } },
          list: [1, 'two'],
          nothing: null,
        },
      }),
    );
    expect(decoded.envelope.id).to.equal('m-1');
    expect(decoded.envelope.type).to.equal('foreign.Type');
    expect(decoded.envelope.headers).to.deep.equal({
      [Header.contentType]: 'application/json; charset=utf-8',
      [Header.source]: 'java',
      [Header.time]: '2024-01-01T00:00:00Z',
      count: '3',
      flag: 'false',
      bytes: 'text',
      stamp: '2023-11-14T22:13:20.000Z',
      price: '12.34',
      list: '[1,"two"]',
    });
  });

  it('turns a message with nothing to go on into an envelope with empty id and type', function () {
    const decoded = decodeMessage(received(Buffer.from([0xff, 0xfe]), { headers: undefined }));
    expect(decoded.envelope).to.deep.equal({
      id: '',
      type: '',
      headers: {},
      body: Buffer.from([0xff, 0xfe]),
    });
    expect(decoded.attempt).to.equal(1);
  });

  it('ignores nonsense in the attempt and delivery-count headers', function () {
    const decoded = decodeMessage(
      received(Buffer.alloc(0), { headers: { [ATTEMPT_HEADER]: 'many', 'x-delivery-count': -4 } }),
    );
    expect(decoded.attempt).to.equal(1);
  });

  it("reports the broker's latest dead-lettering and drops its bookkeeping headers", function () {
    const decoded = decodeMessage(
      received(Buffer.alloc(0), {
        headers: {
          'x-death': [
            { reason: 'delivery_limit', queue: 'payments', count: 1 },
            { reason: 'expired', queue: 'payments.retry.128', count: 2 },
          ],
          'x-first-death-reason': 'expired',
          'x-first-death-queue': 'payments.retry.128',
          'x-first-death-exchange': '',
          cloudEvents_id: 'a',
          cloudEvents_type: 't',
        },
      }),
    );
    expect(decoded.death).to.deep.equal({ reason: 'delivery_limit', queue: 'payments' });
    expect(decoded.envelope.headers).to.deep.equal({});
  });

  it('turns any AMQP field value into text, or nothing', function () {
    expect(headerText('s')).to.equal('s');
    expect(headerText(10n)).to.equal('10');
    expect(headerText(undefined)).to.equal(undefined);
    expect(headerText(() => 1)).to.equal(undefined);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(headerText(cyclic)).to.equal(undefined);
  });

  it('writes no empty CloudEvents id or type and no empty message-id for a foreign message (#15.1)', function () {
    const { options } = encodeEnvelope({
      id: '',
      type: '',
      headers: { 'x-custom': 'v' },
      body: Buffer.from('?'),
    });
    expect(options.messageId).to.equal(undefined);
    expect(Object.keys(options.headers)).to.deep.equal(['x-custom']);
  });

  it('unpacks a structured-mode CloudEvent (content-type application/cloudevents+json) (#15.2)', function () {
    const event = {
      specversion: '1.0',
      id: 'e1',
      type: 'orders.OrderPlaced',
      source: 'shop',
      partitionkey: 'o-1',
      data: { orderId: 'o-1' },
    };
    const { envelope } = decodeMessage(
      received(Buffer.from(JSON.stringify(event)), {
        contentType: 'application/cloudevents+json; charset=utf-8',
      }),
    );
    expect(envelope.id).to.equal('e1');
    expect(envelope.type).to.equal('orders.OrderPlaced');
    expect(envelope.key).to.equal('o-1');
    expect(envelope.headers).to.deep.include({
      source: 'shop',
      specversion: '1.0',
      [Header.contentType]: 'application/json',
    });
    expect(JSON.parse(Buffer.from(envelope.body).toString())).to.deep.equal({ orderId: 'o-1' });
  });

  it('keeps a structured-mode body that is not an event as it came, with its attributes', function () {
    const { envelope } = decodeMessage(
      received(Buffer.from('not json'), {
        contentType: 'application/cloudevents+json',
        headers: { 'x-custom': 'v' },
      }),
    );
    expect(envelope.type).to.equal('');
    expect(envelope.headers).to.deep.include({ 'x-custom': 'v' });
    expect(Buffer.from(envelope.body).toString()).to.equal('not json');
  });

  it('keeps a __proto__ field-table entry as a header and leaks nothing inherited (hostile input, #16.7)', function () {
    const table = JSON.parse('{"cloudEvents_id":"1","cloudEvents_type":"t","__proto__":"x"}') as Record<
      string,
      unknown
    >;
    const { envelope } = decodeMessage(received(Buffer.from('{}'), { headers: table }));
    expect(Object.getPrototypeOf(envelope.headers)).to.equal(null);
    expect(Object.keys(envelope.headers)).to.deep.equal(['__proto__']);
    const { options } = encodeEnvelope(envelope);
    expect(Object.keys(options.headers).sort()).to.deep.equal([
      '__proto__',
      'cloudEvents_id',
      'cloudEvents_type',
    ]);
  });
});
