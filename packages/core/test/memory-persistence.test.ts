import 'reflect-metadata';
import { expect } from 'chai';
import type { Clock, Envelope, MemoryTransaction, MessageContext, OutboxMessage } from '../src/index.js';
import {
  Bus,
  ConfigurationError,
  Handle,
  MemoryPersistence,
  MemoryTransport,
  Subscriber,
  constant,
} from '../src/index.js';
import { uniqueName, waitFor } from '../src/testing/index.js';
import { contracts, type OrderPlacedV1, type ProcessPaymentV1 } from './fixtures.js';

class ManualClock implements Clock {
  constructor(public time = 1_000_000) {}
  now(): number {
    return this.time;
  }
}

/** The error `promise` rejects with; fails when it resolves. */
function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

function message(id: string, key?: string, channel = 'orders'): OutboxMessage {
  const envelope: Envelope = {
    id,
    type: 'orders.OrderPlaced',
    headers: {},
    body: new Uint8Array([1]),
    ...(key === undefined ? {} : { key }),
  };
  return { destination: { kind: 'channel', channel }, envelope };
}

describe('MemoryPersistence', function () {
  describe('unit of work', function () {
    it('applies writes on commit, shows a transaction its own writes, and drops them on rollback', async function () {
      const persistence = new MemoryPersistence();
      await persistence.unitOfWork.transaction(async (tx) => {
        tx.put('orders', 'o1', { total: 5 });
        expect(tx.get('orders', 'o1')).to.deep.equal({ total: 5 });
        expect(persistence.table('orders').has('o1')).to.equal(false);
      });
      expect(persistence.table('orders').get('o1')).to.deep.equal({ total: 5 });

      const failure = new Error('boom');
      const rolledBack = persistence.unitOfWork.transaction(async (tx) => {
        tx.put('orders', 'o2', { total: 7 });
        tx.delete('orders', 'o1');
        expect(tx.get('orders', 'o1')).to.equal(undefined);
        throw failure;
      });
      expect(await rejection(rolledBack)).to.equal(failure);
      expect(persistence.table('orders').has('o2')).to.equal(false);
      expect(persistence.table('orders').has('o1')).to.equal(true);
    });

    it('refuses writes after the transaction ended and reports how it ended', async function () {
      const persistence = new MemoryPersistence();
      let leaked: MemoryTransaction | undefined;
      await persistence.unitOfWork.transaction(async (tx) => {
        leaked = tx;
      });
      expect(await leaked!.settled).to.equal(true);
      expect(() => leaked!.put('orders', 'late', 1))
        .to.throw()
        .with.property('code', 'TRANSACTION_CLOSED');
    });

    it('validates its options, naming the field', function () {
      expect(() => new MemoryPersistence({ inboxTtlMs: 0 }))
        .to.throw(ConfigurationError)
        .with.property('field', 'inboxTtlMs');
      expect(() => new MemoryPersistence({ inboxMaxEntries: 1.5 }))
        .to.throw(ConfigurationError)
        .with.property('field', 'inboxMaxEntries');
    });
  });

  describe('inbox (best-effort)', function () {
    it('says a committed id is a duplicate, per group, and forgets a rolled-back one', async function () {
      const persistence = new MemoryPersistence();
      const { inbox, unitOfWork } = persistence;
      expect(await unitOfWork.transaction((tx) => inbox.record(tx, 'g', 'm1'))).to.equal(true);
      expect(await unitOfWork.transaction((tx) => inbox.record(tx, 'g', 'm1'))).to.equal(false);
      expect(await unitOfWork.transaction((tx) => inbox.record(tx, 'other', 'm1'))).to.equal(true);

      await rejection(
        unitOfWork.transaction(async (tx) => {
          expect(await inbox.record(tx, 'g', 'm2')).to.equal(true);
          throw new Error('handler failed');
        }),
      );
      expect(await unitOfWork.transaction((tx) => inbox.record(tx, 'g', 'm2'))).to.equal(true);
    });

    it('makes a concurrent record of the same id wait for the first transaction', async function () {
      const { inbox, unitOfWork } = new MemoryPersistence();
      let finishFirst!: (fail: boolean) => void;
      const first = unitOfWork.transaction(async (tx) => {
        expect(await inbox.record(tx, 'g', 'm')).to.equal(true);
        if (await new Promise<boolean>((resolve) => (finishFirst = resolve))) throw new Error('rolled back');
      });
      await waitFor(() => finishFirst !== undefined);
      const second = unitOfWork.transaction((tx) => inbox.record(tx, 'g', 'm'));
      finishFirst(true);
      await rejection(first);
      expect(await second).to.equal(true, 'the first rolled back, so the second handles it');

      let commitThird!: () => void;
      const third = unitOfWork.transaction(async (tx) => {
        const recorded = await inbox.record(tx, 'g', 'n');
        await new Promise<void>((resolve) => (commitThird = resolve));
        return recorded;
      });
      await waitFor(() => commitThird !== undefined);
      const fourth = unitOfWork.transaction((tx) => inbox.record(tx, 'g', 'n'));
      commitThird();
      expect(await third).to.equal(true);
      expect(await fourth).to.equal(false, 'the third committed: a duplicate');
    });

    it('forgets ids after the TTL, past the entry cap, and on purge', async function () {
      const clock = new ManualClock();
      const { inbox, unitOfWork } = new MemoryPersistence({ clock, inboxTtlMs: 1_000, inboxMaxEntries: 2 });
      const record = (id: string) => unitOfWork.transaction((tx) => inbox.record(tx, 'g', id));
      await record('a');
      clock.time += 1_001;
      expect(await record('a')).to.equal(true, 'expired after the TTL');
      await record('b');
      await record('c');
      expect(inbox.size).to.equal(2);
      expect(await record('a')).to.equal(true, 'the oldest went past the cap');
      clock.time += 10;
      await record('d');
      expect(await inbox.purge(new Date(clock.time))).to.equal(1, 'a is older than now; d is not');
      expect(inbox.size).to.equal(1);
    });
  });

  describe('outbox', function () {
    it('shows rows only after commit, and notifies listeners then', async function () {
      const { outbox, unitOfWork } = new MemoryPersistence();
      let notified = 0;
      const listener = await outbox.listen(() => notified++);
      await rejection(
        unitOfWork.transaction(async (tx) => {
          await outbox.add(tx, [message('m0')]);
          throw new Error('rolled back');
        }),
      );
      await unitOfWork.transaction(async (tx) => {
        await outbox.add(tx, [message('m1'), message('m2')]);
        expect((await outbox.backlog()).pending).to.equal(0);
      });
      await waitFor(() => notified === 1);
      const backlog = await outbox.backlog();
      expect(backlog.pending).to.equal(2);
      expect(backlog.oldestPendingAt).to.be.instanceOf(Date);
      await listener.close();
      await unitOfWork.transaction((tx) => outbox.add(tx, [message('m3')]));
      await Promise.resolve();
      expect(notified).to.equal(1);
    });

    it('claims per-key prefixes and skips a key whose earlier row is leased', async function () {
      const clock = new ManualClock();
      const { outbox, unitOfWork } = new MemoryPersistence({ clock });
      await unitOfWork.transaction((tx) =>
        outbox.add(tx, [message('a1', 'A'), message('b1', 'B'), message('a2', 'A'), message('n1')]),
      );
      await unitOfWork.transaction((tx) =>
        outbox.add(tx, [message('a3', 'A'), message('c1', 'C'), message('a1-elsewhere', 'A', 'billing')]),
      );
      const first = await outbox.claim('r1', 2, 1_000);
      expect(first.map((r) => r.envelope.id)).to.deep.equal(['a1', 'b1']);
      expect(first[0]!.attempts).to.equal(1);
      const second = await outbox.claim('r2', 10, 1_000);
      expect(second.map((r) => r.envelope.id)).to.deep.equal(
        ['n1', 'c1', 'a1-elsewhere'],
        'key A waits behind r1; the same key on another destination is another ordering key',
      );
      expect(await outbox.claim('r3', 10, 1_000)).to.deep.equal([]);

      await outbox.markPublished([first[0]!.id], false);
      await outbox.release('r1', [first[1]!.id]);
      const third = await outbox.claim('r3', 10, 1_000);
      expect(third.map((r) => r.envelope.id)).to.deep.equal(['b1', 'a2', 'a3']);
      expect(third[0]!.attempts).to.equal(2);
    });

    it('hands out rows again once their lease expires', async function () {
      const clock = new ManualClock();
      const { outbox, unitOfWork } = new MemoryPersistence({ clock });
      await unitOfWork.transaction((tx) => outbox.add(tx, [message('a1', 'A'), message('a2', 'A')]));
      expect(await outbox.claim('dead', 1, 500)).to.have.length(1);
      expect(await outbox.claim('alive', 10, 500)).to.deep.equal([]);
      clock.time += 501;
      const again = await outbox.claim('alive', 10, 500);
      expect(again.map((r) => r.envelope.id)).to.deep.equal(['a1', 'a2']);
      await outbox.release('dead', [again[0]!.id]);
      expect(await outbox.claim('other', 10, 500)).to.deep.equal(
        [],
        "a stale owner cannot release another's lease",
      );
    });

    it('keeps a failed row out of the way of its key, and counts it', async function () {
      const { outbox, unitOfWork } = new MemoryPersistence();
      await unitOfWork.transaction((tx) => outbox.add(tx, [message('a1', 'A'), message('a2', 'A')]));
      const [a1] = await outbox.claim('r', 1, 1_000);
      await outbox.markFailed('someone-else', a1!.id, 'too large');
      expect((await outbox.backlog()).failed).to.equal(0, 'only the lease holder gives up a row');
      await outbox.markFailed('r', a1!.id, 'too large');
      expect((await outbox.claim('r', 10, 1_000)).map((r) => r.envelope.id)).to.deep.equal(['a2']);
      expect(await outbox.backlog()).to.deep.include({ pending: 1, failed: 1 });
    });

    it('keeps published rows when asked, until they are purged', async function () {
      const clock = new ManualClock();
      const { outbox, unitOfWork } = new MemoryPersistence({ clock });
      await unitOfWork.transaction((tx) => outbox.add(tx, [message('a'), message('b')]));
      const [a, b] = await outbox.claim('r', 10, 1_000);
      await outbox.markPublished([a!.id], true);
      await outbox.markPublished([b!.id], false);
      expect(outbox.size).to.equal(1);
      expect((await outbox.backlog()).pending).to.equal(0);
      expect(await outbox.purgePublished(new Date(clock.time))).to.equal(0);
      clock.time += 1;
      expect(await outbox.purgePublished(new Date(clock.time))).to.equal(1);
      expect(outbox.size).to.equal(0);
    });
  });

  describe('with a Bus', function () {
    let transport: MemoryTransport;
    let persistence: MemoryPersistence;
    let c: ReturnType<typeof contracts>;
    let bus: Bus;

    beforeEach(function () {
      transport = new MemoryTransport();
      persistence = new MemoryPersistence();
      c = contracts(uniqueName());
    });
    afterEach(async function () {
      await bus.stop();
    });

    function start(handler: new () => object): Promise<void> {
      bus = new Bus({
        transport,
        serviceName: 'test',
        handlers: [handler],
        persistence,
        outboxRelay: false, // the test runs its own relays
        retry: { attempts: 2, backoff: constant(0) },
      });
      return bus.start();
    }

    it('commits the handler row and its outbox rows together, or neither', async function () {
      const { ProcessPayment, OrderPlaced } = c;
      @Subscriber({ group: 'payments' })
      class Payments {
        @Handle(ProcessPayment)
        async process(command: ProcessPaymentV1, ctx: MessageContext) {
          (ctx.tx as MemoryTransaction).put('payments', command.orderId, command.amount);
          await ctx.publish(OrderPlaced, { orderId: command.orderId, total: command.amount });
          if (command.amount < 0) throw new Error('negative amount');
        }
      }
      await start(Payments);
      await bus.send(ProcessPayment, { orderId: 'ok', amount: 3 });
      await bus.send(ProcessPayment, { orderId: 'bad', amount: -1 });
      await waitFor(() => bus.stats.deadLettered === 1 && bus.stats.handled === 1);
      expect([...persistence.table('payments')]).to.deep.equal([['ok', 3]]);
      const rows = await persistence.outbox.claim('test', 10, 1_000);
      expect(rows.map((row) => row.envelope.key)).to.deep.equal(['ok']);
      expect(rows[0]!.destination).to.deep.equal({ kind: 'channel', channel: OrderPlaced.channel });
    });

    it('runs the handler once for a duplicate delivery', async function () {
      const { ProcessPayment } = c;
      const seen: string[] = [];
      @Subscriber({ group: 'payments' })
      class Payments {
        @Handle(ProcessPayment)
        process(command: ProcessPaymentV1) {
          seen.push(command.orderId);
        }
      }
      await start(Payments);
      await bus.send(ProcessPayment, { orderId: 'o1', amount: 1 }, { id: 'same-id' });
      await bus.send(ProcessPayment, { orderId: 'o1', amount: 1 }, { id: 'same-id' });
      await waitFor(() => bus.stats.duplicates === 1 && bus.stats.received === 2);
      expect(seen).to.deep.equal(['o1']);
    });

    it('bus.transaction writes business rows and outbox rows together', async function () {
      const { OrderPlaced } = c;
      @Subscriber({ group: 'noop' })
      class Noop {
        @Handle(OrderPlaced)
        placed(_event: OrderPlacedV1) {}
      }
      await start(Noop);
      await bus.transaction(async ({ tx, publish }) => {
        (tx as MemoryTransaction).put('orders', 'o1', 'placed');
        await publish(OrderPlaced, { orderId: 'o1', total: 1 });
      });
      const failed = await rejection(
        bus.transaction(async ({ tx, publish }) => {
          (tx as MemoryTransaction).put('orders', 'o2', 'placed');
          await publish(OrderPlaced, { orderId: 'o2', total: 1 });
          throw new Error('validation failed');
        }),
      );
      expect(failed).to.have.property('message', 'validation failed');
      expect([...persistence.table('orders').keys()]).to.deep.equal(['o1']);
      expect(await persistence.outbox.backlog()).to.deep.include({ pending: 1 });
    });
  });
});
