import { expect } from 'chai';
import type { Destination, Envelope, Source } from '../src/index.js';
import { Header, MemoryTransport, TransportError, uuidv7 } from '../src/index.js';
import type { Delivery } from '../src/transport/index.js';
import {
  runRequestReplyConformance,
  runTransportConformance,
  uniqueName,
  waitFor,
} from '../src/testing/index.js';

runTransportConformance('memory', {
  createTransport: async () => {
    const transport = new MemoryTransport();
    await transport.connect();
    return transport;
  },
  createUnconnectedTransport: () => new MemoryTransport(),
  waitMs: 5_000,
});

describe('memory request/reply', function () {
  // The memory transport is a broker of its own: the buses of one test share one.
  let shared: MemoryTransport;
  beforeEach(function () {
    shared = new MemoryTransport();
  });
  runRequestReplyConformance('memory', {
    createTransport: async () => shared,
    failsFastWithoutResponder: true,
    waitMs: 5_000,
  });
});

describe('MemoryTransport backpressure', function () {
  let transport: MemoryTransport;
  let destination: Destination;
  let source: Source;
  const transports: MemoryTransport[] = [];

  beforeEach(async function () {
    transport = new MemoryTransport({ maxQueueDepth: 8 });
    const queue = uniqueName('q');
    await transport.provision({ queues: [{ name: queue }] });
    destination = { kind: 'queue', queue };
    source = { kind: 'queue', queue };
  });
  afterEach(async function () {
    await Promise.all([transport, ...transports.splice(0)].map((t) => t.close()));
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

  it('makes publishers wait while the queue is full, lets them in as room appears, and keeps their order', async function () {
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
    // A publish made now queues behind the two that wait, whether or not one of them is in yet.
    publishes.push(publish(10, outcomes));
    await settle();
    // One slot came free (the delivery in flight): message 8 took it; 9 and 10 wait.
    expect(outcomes.get(8)).to.equal('sent');
    expect(outcomes.has(9) || outcomes.has(10)).to.equal(false);
    expect(transport.depth(source)).to.equal(8);

    while (order.length < 11) {
      await waitFor(() => held.length === 1, { message: `delivery ${order.length}` });
      await held.shift()!.ack();
    }
    await Promise.all(publishes);
    expect(order).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await consumer.close();
  });

  it('does not stall when every consumer of a full queue is publishing into that queue', async function () {
    // A full queue of 40 (waiters wake in batches of 10 while the process is busy) and a publisher
    // waiting for room; two consumers whose handlers each publish one more message into the same queue
    // before they ack. The handlers wait behind the outside publisher, and the consumers can free only
    // one slot at a time: waiting publishers must be let in while the consumers are all stuck, not only
    // once a whole batch fits. (Were every consumer stuck with the queue full, no bounded queue could
    // help: that cycle deadlocks on any broker that applies backpressure.)
    const small = new MemoryTransport({ maxQueueDepth: 40 });
    transports.push(small);
    await small.provision({ queues: [{ name: destination.kind === 'queue' ? destination.queue : '' }] });
    let next = 0;
    const send = () => small.publish(destination, [message(next++)]);
    for (let i = 0; i < 40; i++) await send();
    const outside = send();
    const handled: number[] = [];
    let republished = 0;
    await small.consume(
      source,
      async (delivery) => {
        handled.push(Number(Buffer.from(delivery.envelope.body).toString()));
        if (republished < 100) {
          republished++;
          await send();
        }
        await delivery.ack();
      },
      { concurrency: 2 },
    );
    await waitFor(() => handled.length === 141, { message: 'all 141 messages handled' });
    await outside;
    expect([...handled].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 141 }, (_, seq) => seq));
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

  it('closes while a handler waits to publish into its own full queue, rejecting that publish', async function () {
    for (let seq = 0; seq < 8; seq++) await transport.publish(destination, [message(seq)]);
    let handlerPublish: Promise<unknown> | undefined;
    await transport.consume(
      source,
      async () => {
        // Two more into a queue with one free slot, and the only consumer busy here: stuck for good.
        handlerPublish ??= transport
          .publish(destination, [message(100), message(101)])
          .catch((e: unknown) => e);
        await handlerPublish;
      },
      { concurrency: 1 },
    );
    await waitFor(() => handlerPublish !== undefined && transport.depth(source) === 8, {
      message: 'the handler blocked on a full queue',
    });
    await transport.close();
    const error = await handlerPublish;
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
