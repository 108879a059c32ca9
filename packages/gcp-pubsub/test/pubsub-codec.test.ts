import type { Envelope } from '@omnibus/core';
import { Header, TransportError, readFailure } from '@omnibus/core';
import { withFailureHeaders } from '@omnibus/core/transport';
import { expect } from 'chai';
import {
  checkPublishable,
  fitFailureHeaders,
  fromPubSubMessage,
  messageSize,
  toPubSubMessage,
} from '../src/pubsub-codec.js';
import {
  DEAD_LETTER_DELIVERY_COUNT,
  MAX_DELIVERIES_EXCEEDED,
  withServerDeadLetterReason,
} from '../src/server-dead-letters.js';

const envelope: Envelope = {
  id: '01a2-id',
  type: 'orders.OrderPlaced',
  key: 'order-42',
  headers: {
    [Header.specVersion]: '1.0',
    [Header.contentType]: 'application/json',
    [Header.source]: 'orders',
    [Header.traceParent]: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    'x-custom': 'ünïcödé = value',
  },
  body: Buffer.from('{"orderId":"42"}'),
};

function errorCode(run: () => void): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    expect(error).to.be.instanceOf(TransportError);
    return (error as TransportError).code;
  }
}

describe('Pub/Sub message codec', function () {
  it('writes CloudEvents binary mode: ce- attributes, content-type, the key as partitionkey', function () {
    const message = toPubSubMessage(envelope, false);
    expect(message.attributes).to.deep.equal({
      'ce-id': '01a2-id',
      'ce-type': 'orders.OrderPlaced',
      'ce-specversion': '1.0',
      'content-type': 'application/json',
      'ce-source': 'orders',
      'ce-traceparent': envelope.headers[Header.traceParent],
      'ce-partitionkey': 'order-42',
      'x-custom': 'ünïcödé = value',
    });
    expect(message.orderingKey).to.equal(undefined);
    expect(message.data.toString()).to.equal('{"orderId":"42"}');
  });

  it('puts the key in the ordering key on an ordered destination', function () {
    const message = toPubSubMessage(envelope, true);
    expect(message.orderingKey).to.equal('order-42');
    expect(message.attributes).not.to.have.property('ce-partitionkey');
  });

  it('round-trips an envelope losslessly, ordered or not', function () {
    for (const ordered of [false, true]) {
      const decoded = fromPubSubMessage(toPubSubMessage(envelope, ordered));
      expect(decoded).to.deep.equal({ ...envelope, body: decoded.body });
      expect(Buffer.from(decoded.body).equals(Buffer.from(envelope.body))).to.equal(true);
    }
    const keyless = { ...envelope, key: undefined };
    delete keyless.key;
    expect(fromPubSubMessage(toPubSubMessage(keyless, false))).not.to.have.property('key');
  });

  it('decodes what a foreign publisher sends, never throwing', function () {
    expect(fromPubSubMessage({ data: Buffer.from([0xff, 0x00]), attributes: null })).to.deep.include({
      id: '',
      type: '',
      headers: {},
    });
    expect(fromPubSubMessage({ attributes: { origin: 'cron' } })).to.deep.include({
      id: '',
      type: '',
      headers: { origin: 'cron' },
    });
    expect(fromPubSubMessage({ data: Buffer.from('x'), orderingKey: 'k' }).key).to.equal('k');
  });

  it('unpacks a structured-mode CloudEvent', function () {
    const decoded = fromPubSubMessage({
      data: Buffer.from(
        JSON.stringify({
          specversion: '1.0',
          id: 'e-1',
          type: 'shipping.Shipped',
          source: 'warehouse',
          data: { n: 1 },
        }),
      ),
      attributes: { 'content-type': 'application/cloudevents+json; charset=utf-8', region: 'eu' },
    });
    expect(decoded.id).to.equal('e-1');
    expect(decoded.type).to.equal('shipping.Shipped');
    expect(decoded.headers).to.deep.equal({
      region: 'eu',
      specversion: '1.0',
      source: 'warehouse',
      [Header.contentType]: 'application/json',
    });
    expect(Buffer.from(decoded.body).toString()).to.equal('{"n":1}');
  });

  it("refuses what Pub/Sub refuses: size, attribute count and lengths, 'goog' names", function () {
    const message = toPubSubMessage(envelope, false);
    expect(messageSize(message)).to.be.greaterThan(envelope.body.byteLength);
    expect(errorCode(() => checkPublishable(message, 'id', 10_000_000))).to.equal(undefined);
    expect(errorCode(() => checkPublishable(message, 'id', messageSize(message) - 1))).to.equal(
      'MESSAGE_TOO_LARGE',
    );
    const attributes = (extra: Record<string, string>) => ({ ...message, attributes: { ...extra } });
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`a${i}`, 'v']));
    expect(errorCode(() => checkPublishable(attributes(many), 'id', 10_000_000))).to.equal('INVALID_MESSAGE');
    expect(errorCode(() => checkPublishable(attributes({ googx: 'v' }), 'id', 10_000_000))).to.equal(
      'INVALID_MESSAGE',
    );
    expect(
      errorCode(() => checkPublishable(attributes({ ['k'.repeat(257)]: 'v' }), 'id', 10_000_000)),
    ).to.equal('INVALID_MESSAGE');
    expect(errorCode(() => checkPublishable(attributes({ k: 'é'.repeat(513) }), 'id', 10_000_000))).to.equal(
      'INVALID_MESSAGE',
    );
    expect(
      errorCode(() => checkPublishable({ ...message, orderingKey: 'k'.repeat(1025) }, 'id', 10_000_000)),
    ).to.equal('INVALID_MESSAGE');
  });

  it('cuts failure headers to the attribute limit so a dead letter can always be published', function () {
    const failed = withFailureHeaders(
      envelope,
      {
        message: 'é'.repeat(600),
        code: 'BOOM',
        stack: 'at x\n'.repeat(800),
        attempts: 3,
        failedAt: new Date(0),
      },
      { kind: 'queue', queue: 'payments' },
    );
    const fitted = fitFailureHeaders(failed);
    expect(errorCode(() => checkPublishable(toPubSubMessage(fitted, false), 'id', 10_000_000))).to.equal(
      undefined,
    );
    expect(fitted.headers[Header.errorMessage]!.endsWith('…')).to.equal(true);
    expect(Buffer.byteLength(fitted.headers[Header.errorStack]!)).to.be.at.most(1024);
    expect(fitted.headers[Header.errorCode]).to.equal('BOOM');
    expect(fitted.headers['x-custom']).to.equal(envelope.headers['x-custom']);
  });

  it("gives a message the server's dead-letter policy moved a reason and its source", function () {
    const of = { kind: 'subscription', channel: 'orders', group: 'billing' } as const;
    const moved = withServerDeadLetterReason(
      envelope,
      { [DEAD_LETTER_DELIVERY_COUNT]: '6' },
      of,
      new Date(5),
    );
    const failure = readFailure(moved);
    expect(failure).to.deep.include({ code: MAX_DELIVERIES_EXCEEDED, attempts: 6, source: of });
    expect(failure?.failedAt.getTime()).to.equal(5);
    const ours = withFailureHeaders(
      envelope,
      { message: 'm', code: 'C', attempts: 1, failedAt: new Date() },
      of,
    );
    expect(withServerDeadLetterReason(ours, {}, of, new Date())).to.equal(ours);
  });

  it('writes no empty ce-id or ce-type for a foreign message without them (#15.1)', function () {
    const message = toPubSubMessage(
      { id: '', type: '', headers: { 'x-custom': 'v' }, body: Buffer.from('?') },
      false,
    );
    expect(Object.keys(message.attributes)).to.deep.equal(['x-custom']);
  });

  it('keeps a __proto__ attribute as a header and leaks nothing inherited (hostile input, #16.7)', function () {
    const attributes = JSON.parse('{"ce-id":"1","ce-type":"t","__proto__":"x"}') as Record<string, string>;
    const envelope = fromPubSubMessage({ data: Buffer.from('{}'), attributes });
    expect(Object.keys(envelope.headers)).to.deep.equal(['__proto__']);
    expect(envelope.headers['__proto__']).to.equal('x');
    const message = toPubSubMessage(envelope, false);
    expect(Object.getPrototypeOf(message.attributes)).to.equal(null);
    expect(Object.keys(message.attributes).sort()).to.deep.equal(['__proto__', 'ce-id', 'ce-type']);
  });
});
