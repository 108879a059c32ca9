import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { JsMsg } from '@nats-io/jetstream';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { describeIntegration } from '@omnibus/core/testing';
import { decodeMessage } from '../src/nats-codec.js';
import { decodeReceived, deliveryCountOf, headerBlockOf } from '../src/nats-received.js';

const url = process.env.OMNIBUS_NATS_URL ?? 'nats://127.0.0.1:4222';

async function probe(): Promise<void> {
  const nc = await connect({ servers: url, timeout: 3_000, reconnect: false });
  try {
    await jetstreamManager(nc);
  } finally {
    await nc.close();
  }
}

/**
 * The consumer reads a message's header block and delivery count from the client's internals (faster than
 * its `headers` and `info`): these fail if a client upgrade moves them, instead of the fast path quietly
 * turning into the slow one.
 */
describeIntegration('nats received messages', probe, () => {
  let nc: NatsConnection;
  const stream = `received_${randomUUID().replaceAll('-', '')}`;
  const subject = `received.${randomUUID()}`;
  before(async function () {
    nc = await connect({ servers: url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [subject] });
    await jsm.consumers.add(stream, { durable_name: 'reader', ack_policy: AckPolicy.Explicit });
  });
  after(async function () {
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
    await nc.close();
  });

  async function next(): Promise<JsMsg> {
    const consumer = await jetstream(nc).consumers.get(stream, 'reader');
    const message = await consumer.next({ expires: 5_000 });
    if (message === null) throw new Error('no message within 5 s');
    return message;
  }

  it('decodes the header block as received, as the client decodes it, and counts deliveries', async function () {
    const headers = natsHeaders();
    headers.set('ce-id', 'r1');
    headers.set('ce-type', 't.Received');
    headers.set('content-type', 'application/json');
    headers.set('x-custom', 'ü, a: b');
    await jetstream(nc).publish(subject, Buffer.from('{"n":1}'), { headers, msgID: 'r1' });

    const first = await next();
    expect(headerBlockOf(first)).to.be.instanceOf(Uint8Array);
    expect(decodeReceived(first)).to.deep.equal(decodeMessage(first.headers, first.data));
    expect(decodeReceived(first).headers['x-custom']).to.equal('ü, a: b');
    expect(deliveryCountOf(first)).to.equal(1);
    first.nak();

    const second = await next();
    expect(deliveryCountOf(second)).to.equal(second.info.deliveryCount).and.to.equal(2);
    second.ack();
  });

  it('reads a message without headers', async function () {
    nc.publish(subject, Buffer.from('plain'));
    await nc.flush();
    const message = await next();
    expect(headerBlockOf(message)).to.equal(null);
    expect(decodeReceived(message)).to.deep.equal(decodeMessage(message.headers, message.data));
    message.ack();
  });
});
