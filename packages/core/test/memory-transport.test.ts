import { expect } from 'chai';
import type { Delivery, Destination, Envelope, Source } from '../src/index.js';
import { Header, MemoryTransport, TransportError, uuidv7 } from '../src/index.js';
import { runTransportConformance, uniqueName, waitFor } from '../src/testing/index.js';

runTransportConformance('memory', {
  createTransport: async () => {
    const transport = new MemoryTransport();
    await transport.connect();
    return transport;
  },
  waitMs: 5_000,
});

describe('MemoryTransport backpressure', function () {
  let transport: MemoryTransport;
  let destination: Destination;
  let source: Source;

  beforeEach(async function () {
    transport = new MemoryTransport({ maxQueueDepth: 8 });
    const queue = uniqueName('q');
    await transport.provision({ queues: [{ name: queue }] });
    destination = { kind: 'queue', queue };
    source = { kind: 'queue', queue };
  });
  afterEach(async function () {
    await transport.close();
  });

  function message(seq: number): Envelope {
    return {
      id: uuidv7(),
      type: 'test.Seq',
      headers: { [Header.contentType]: 'text/plain' },
      body: Buffer.from(String(seq)),
    };
  }

  /** Publishes `seq`, recording when its promise resolves or rejects. */
  function publish(seq: number, outcomes: Map<number, 'sent' | Error>): Promise<void> {
    return transport.publish(destination, [message(seq)]).then(
      () => void outcomes.set(seq, 'sent'),
      (error: Error) => void outcomes.set(seq, error),
    );
  }

  /** Lets every pending promise callback and I/O turn run, so "still waiting" is a fact, not a guess. */
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('makes publishers wait while the queue is full, wakes them at three quarters, and keeps their order', async function () {
    const outcomes = new Map<number, 'sent' | Error>();
    const publishes = Array.from({ length: 10 }, (_, seq) => publish(seq, outcomes));
    await settle();
    expect([...outcomes.keys()].sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);

    const held: Delivery[] = [];
    const order: number[] = [];
    const consumer = await transport.consume(
      source,
      async (delivery) => {
        order.push(Number(Buffer.from(delivery.envelope.body).toString()));
        held.push(delivery);
      },
      { concurrency: 1 },
    );
    await waitFor(() => held.length === 1, { message: 'the first delivery' });
    // One message out (depth 7): room for one, but the waiting publishers sleep until depth 6 ...
    expect(transport.depth(source)).to.equal(7);
    // ... and a publish made now does not overtake them.
    publishes.push(publish(10, outcomes));
    await settle();
    expect(outcomes.has(8) || outcomes.has(9) || outcomes.has(10)).to.equal(false);

    await held.shift()!.ack(); // the second delivery: depth 6, the low-water mark
    await Promise.all(publishes.slice(8, 10));
    await settle();
    expect(outcomes.get(8)).to.equal('sent');
    expect(outcomes.get(9)).to.equal('sent');
    expect(outcomes.has(10)).to.equal(false); // 8 again: full
    while (order.length < 11) {
      await waitFor(() => held.length === 1, { message: `delivery ${order.length}` });
      await held.shift()!.ack();
    }
    await Promise.all(publishes);
    expect(order).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await consumer.close();
  });

  it('rejects waiting publishers with TRANSPORT_CLOSED when it closes', async function () {
    const outcomes = new Map<number, 'sent' | Error>();
    const publishes = Array.from({ length: 9 }, (_, seq) => publish(seq, outcomes));
    await settle();
    expect(outcomes.size).to.equal(8);
    await transport.close();
    await Promise.all(publishes);
    const error = outcomes.get(8);
    expect(error).to.be.instanceOf(TransportError);
    expect((error as TransportError).code).to.equal('TRANSPORT_CLOSED');
  });

  it('takes a batch larger than the queue one message at a time as consumers make room', async function () {
    const order: number[] = [];
    await transport.consume(
      source,
      async (delivery) => {
        order.push(Number(Buffer.from(delivery.envelope.body).toString()));
        await delivery.ack();
      },
      { concurrency: 2 },
    );
    await transport.publish(
      destination,
      Array.from({ length: 50 }, (_, seq) => message(seq)),
    );
    await waitFor(() => order.length === 50, { message: '50 deliveries' });
    expect(order).to.deep.equal(Array.from({ length: 50 }, (_, seq) => seq));
  });
});
