import 'reflect-metadata';
import { expect } from 'chai';
import type {
  Clock,
  Destination,
  Envelope,
  MemoryTransaction,
  MessageContext,
  OutboxMessage,
  OutboxStore,
  Transport,
} from '../src/index.js';
import {
  Bus,
  ConfigurationError,
  Handle,
  Subscriber,
  defineCommand,
  defineEvent,
  MemoryPersistence,
  MemoryTransport,
  OutboxRelay,
  TransportError,
  constant,
} from '../src/index.js';
import { uniqueName, waitFor } from '../src/testing/index.js';

class ManualClock implements Clock {
  constructor(public time = Date.now()) {}
  now(): number {
    return this.time;
  }
}

function message(channel: string, id: string, key?: string, bytes = 1): OutboxMessage {
  const envelope: Envelope = {
    id,
    type: 'orders.OrderPlaced',
    headers: {},
    body: new Uint8Array(bytes),
    ...(key === undefined ? {} : { key }),
  };
  return { destination: { kind: 'channel', channel }, envelope };
}

/**
 * The memory transport behind a switch: `down` makes publish fail like a broker that is unreachable,
 * `gate` holds publishes until opened. Fault injection around the real in-memory broker.
 */
class SwitchedTransport {
  down = false;
  gate: Promise<void> | undefined;
  attempts = 0;
  constructor(readonly inner: MemoryTransport) {}
  asTransport(): Transport {
    const inner = this.inner;
    return {
      name: inner.name,
      capabilities: inner.capabilities,
      connect: () => inner.connect(),
      provision: (topology) => inner.provision(topology),
      consume: (source, sink, options) => inner.consume(source, sink, options),
      health: () => inner.health(),
      close: () => inner.close(),
      publish: async (destination: Destination, envelopes: readonly Envelope[]) => {
        this.attempts++;
        await this.gate;
        if (this.down) throw new TransportError('broker unreachable', { code: 'CONNECTION_LOST' });
        return inner.publish(destination, envelopes);
      },
    };
  }
}

/** The memory outbox with some of its methods replaced. */
function storeWith(outbox: MemoryPersistence['outbox'], overrides: Partial<OutboxStore>): OutboxStore {
  return {
    add: (tx, messages) => outbox.add(tx as never, messages),
    claim: (owner, limit, leaseMs) => outbox.claim(owner, limit, leaseMs),
    markPublished: (ids, keep) => outbox.markPublished(ids, keep),
    release: (owner, ids) => outbox.release(owner, ids),
    markFailed: (owner, id, reason) => outbox.markFailed(owner, id, reason),
    purgePublished: (before) => outbox.purgePublished(before),
    backlog: () => outbox.backlog(),
    ...overrides,
  };
}

describe('OutboxRelay', function () {
  let transport: MemoryTransport;
  let persistence: MemoryPersistence;
  let channel: string;
  const relays: OutboxRelay[] = [];

  beforeEach(async function () {
    transport = new MemoryTransport({ maxQueueDepth: 20_000 });
    persistence = new MemoryPersistence();
    channel = uniqueName('orders');
    await transport.provision({
      channels: [{ name: channel, ordered: true }],
      subscriptions: [{ channel, group: 'g' }],
    });
  });
  afterEach(async function () {
    await Promise.all(relays.splice(0).map((relay) => relay.stop()));
    await transport.close();
  });

  function relay(options: Partial<ConstructorParameters<typeof OutboxRelay>[0]> = {}): OutboxRelay {
    const created = new OutboxRelay({ store: persistence.outbox, transport, ...options });
    relays.push(created);
    return created;
  }

  async function write(...messages: OutboxMessage[]): Promise<void> {
    await persistence.unitOfWork.transaction((tx) => persistence.outbox.add(tx, messages));
  }

  /** Collects what reaches the subscriber group, in delivery order. */
  async function collect(): Promise<Envelope[]> {
    const received: Envelope[] = [];
    await transport.consume(
      { kind: 'subscription', channel, group: 'g' },
      async (delivery) => {
        received.push(delivery.envelope);
        await delivery.ack();
      },
      { concurrency: 64 },
    );
    return received;
  }

  it('publishes committed rows in key order and deletes them', async function () {
    const received = await collect();
    await write(message(channel, 'a1', 'A'), message(channel, 'b1', 'B'), message(channel, 'a2', 'A'));
    await relay().start();
    await waitFor(() => received.length === 3);
    expect(received.filter((e) => e.key === 'A').map((e) => e.id)).to.deep.equal(['a1', 'a2']);
    await waitFor(async () => persistence.outbox.size === 0, { message: 'rows deleted' });
    expect(relays[0]!.metrics).to.deep.include({ published: 3, claimed: 3, batches: 1 });
  });

  it('wakes on commit without waiting for the poll interval', async function () {
    const received = await collect();
    const running = relay({ pollIntervalMs: 60_000 });
    await running.start();
    await write(message(channel, 'm1'));
    await waitFor(() => received.length === 1, { timeoutMs: 2_000, message: 'a wake-up, not a poll' });
  });

  it('polls when the store cannot notify', async function () {
    const received = await collect();
    await relay({ store: storeWith(persistence.outbox, {}), pollIntervalMs: 20 }).start();
    await write(message(channel, 'm1'));
    await waitFor(() => received.length === 1, { timeoutMs: 2_000 });
  });

  it('two relays publish 10,000 rows: none lost, per-key order kept', async function () {
    this.timeout(60_000);
    const received = await collect();
    const keys = 1_000;
    const total = 10_000;
    for (let start = 0; start < total; start += 500) {
      const batch: OutboxMessage[] = [];
      for (let i = start; i < start + 500; i++) batch.push(message(channel, `m${i}`, `k${i % keys}`));
      await write(...batch);
    }
    const first = relay({ batchSize: 64 });
    const second = relay({ batchSize: 64 });
    await Promise.all([first.start(), second.start()]);
    await waitFor(() => received.length >= total, { timeoutMs: 50_000, message: `${total} messages` });
    expect(new Set(received.map((e) => e.id)).size).to.equal(total);
    expect(received.length).to.equal(total, 'no duplicates without failures');
    const lastByKey = new Map<string, number>();
    for (const envelope of received) {
      const index = Number(envelope.id.slice(1));
      expect(index).to.be.greaterThan(lastByKey.get(envelope.key!) ?? -1, `order of ${envelope.key}`);
      lastByKey.set(envelope.key!, index);
    }
    expect(first.metrics.published).to.be.greaterThan(0);
    expect(second.metrics.published).to.be.greaterThan(0);
  });

  it('backs off while the broker is down and publishes everything once it is back', async function () {
    const received = await collect();
    const switched = new SwitchedTransport(transport);
    switched.down = true;
    const delays: number[] = [];
    const running = relay({
      transport: switched.asTransport(),
      backoff: (attempt) => {
        delays.push(attempt);
        return 5;
      },
    });
    await write(message(channel, 'a1', 'A'), message(channel, 'a2', 'A'));
    await running.start();
    await waitFor(() => delays.length >= 3);
    expect(delays.slice(0, 3)).to.deep.equal([1, 2, 3]);
    expect(running.metrics.published).to.equal(0);
    expect((await running.lag()).pending).to.equal(2);
    switched.down = false;
    await waitFor(() => received.length === 2);
    expect(received.map((e) => e.id)).to.deep.equal(['a1', 'a2']);
    expect(running.metrics.publishErrors).to.be.at.least(3);
  });

  it('backs off while the store fails, then carries on', async function () {
    const received = await collect();
    let failing = true;
    const store = storeWith(persistence.outbox, {
      claim: (owner, limit, leaseMs) =>
        failing
          ? Promise.reject(new Error('database unavailable'))
          : persistence.outbox.claim(owner, limit, leaseMs),
    });
    const running = relay({ store, backoff: constant(5) });
    await write(message(channel, 'm1'));
    await running.start();
    await waitFor(() => running.metrics.storeErrors >= 2);
    failing = false;
    await waitFor(() => received.length === 1);
  });

  it('marks a row the broker can never take as failed and publishes the rest of its key', async function () {
    await transport.close();
    transport = new MemoryTransport({ maxMessageBytes: 1_000 });
    await transport.provision({
      channels: [{ name: channel, ordered: true }],
      subscriptions: [{ channel, group: 'g' }],
    });
    const received = await collect();
    await write(
      message(channel, 'a1', 'A'),
      message(channel, 'a2', 'A', 5_000),
      message(channel, 'a3', 'A'),
      message(channel, 'b1', 'B'),
    );
    const running = relay();
    await running.start();
    await waitFor(() => received.length === 3);
    expect(received.map((e) => e.id)).to.deep.equal(['a1', 'a3', 'b1']);
    expect(running.metrics.failed).to.equal(1);
    expect(await running.lag()).to.deep.include({ pending: 0, failed: 1, lagMs: 0 });
  });

  it('keeps published rows for the retention period, then purges them', async function () {
    const clock = new ManualClock();
    persistence = new MemoryPersistence({ clock });
    const received = await collect();
    await write(message(channel, 'm1'));
    const running = relay({ retentionMs: 60_000, pollIntervalMs: 10, clock });
    await running.start();
    await waitFor(() => received.length === 1);
    await waitFor(() => running.metrics.published === 1);
    expect(persistence.outbox.size).to.equal(1, 'kept');
    await running.stop();
    clock.time += 60_001;
    await running.start();
    await waitFor(() => persistence.outbox.size === 0, { message: 'purged on the next round' });
  });

  it('stops gracefully: the batch in flight is published and marked', async function () {
    const received = await collect();
    const switched = new SwitchedTransport(transport);
    let open!: () => void;
    switched.gate = new Promise((resolve) => (open = resolve));
    const running = relay({ transport: switched.asTransport() });
    await write(message(channel, 'm1'), message(channel, 'm2'));
    await running.start();
    await waitFor(() => switched.attempts === 1);
    const stopped = running.stop();
    open();
    await stopped;
    expect(running.running).to.equal(false);
    expect(received.length + transport.depth({ kind: 'subscription', channel, group: 'g' })).to.equal(2);
    expect(await running.lag()).to.deep.include({ pending: 0 });
  });

  it('waits for a dead relay’s lease to expire before republishing its rows', async function () {
    const clock = new ManualClock();
    persistence = new MemoryPersistence({ clock });
    const received = await collect();
    await write(message(channel, 'a1', 'A'), message(channel, 'a2', 'A'));
    expect(await persistence.outbox.claim('crashed-relay', 1, 30_000)).to.have.length(1);
    let claims = 0;
    const store = storeWith(persistence.outbox, {
      claim: (owner, limit, leaseMs) => {
        claims++;
        return persistence.outbox.claim(owner, limit, leaseMs);
      },
    });
    const running = relay({ store, pollIntervalMs: 10 });
    await running.start();
    await waitFor(() => claims >= 3);
    const lag = await running.lag();
    expect(lag.pending).to.equal(2);
    expect(received).to.have.length(0);
    clock.time += 30_001;
    await waitFor(() => received.length === 2);
    expect(received.map((e) => e.id)).to.deep.equal(['a1', 'a2']);
  });

  it('carries a handler’s messages to their consumers only after its transaction commits', async function () {
    const Pay = defineCommand<{ orderId: string }>({ type: 't.Pay', queue: uniqueName('pay') });
    const Paid = defineEvent<{ orderId: string }>({ type: 't.Paid', channel: uniqueName('paid') });
    const paid: string[] = [];
    @Subscriber({ group: 'payments' })
    class Payments {
      @Handle(Pay)
      async pay(command: { orderId: string }, ctx: MessageContext) {
        (ctx.tx as MemoryTransaction).put('payments', command.orderId, 'paid');
        await ctx.publish(Paid, command);
      }
    }
    @Subscriber({ group: 'shipping' })
    class Shipping {
      @Handle(Paid)
      shipped(event: { orderId: string }) {
        paid.push(event.orderId);
      }
    }
    const bus = new Bus({
      transport,
      serviceName: 't',
      handlers: [Payments, Shipping],
      persistence,
      outboxRelay: false, // the test runs its own relays
      closeTransport: false,
    });
    await bus.start();
    const running = relay();
    await running.start();
    try {
      await bus.send(Pay, { orderId: 'o1' });
      await waitFor(() => paid.length === 1);
      expect(paid).to.deep.equal(['o1']);
      expect(persistence.table('payments').get('o1')).to.equal('paid');
      expect(await running.lag()).to.deep.include({ pending: 0, failed: 0 });
    } finally {
      await running.stop();
      await bus.stop();
    }
  });

  it('validates its options, naming the field', function () {
    const store = persistence.outbox;
    const cases: [Record<string, unknown>, string][] = [
      [{ batchSize: 0 }, 'batchSize'],
      [{ leaseMs: 0 }, 'leaseMs'],
      [{ pollIntervalMs: -1 }, 'pollIntervalMs'],
      [{ retentionMs: -1 }, 'retentionMs'],
      [{ store: {} }, 'store'],
      [{ transport: {} }, 'transport'],
    ];
    for (const [options, field] of cases) {
      expect(() => new OutboxRelay({ store, transport, ...options }))
        .to.throw(ConfigurationError)
        .with.property('field', field);
    }
  });
});
