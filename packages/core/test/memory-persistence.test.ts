import 'reflect-metadata';
import { expect } from 'chai';
import type { Clock, Envelope, MemoryTransaction, OutboxMessage } from '../src/index.js';
import { ConfigurationError, MemoryPersistence } from '../src/index.js';
import { runPersistenceConformance, waitFor } from '../src/testing/index.js';

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

function message(id: string): OutboxMessage {
  const envelope: Envelope = { id, type: 'orders.OrderPlaced', headers: {}, body: new Uint8Array([1]) };
  return { destination: { kind: 'channel', channel: 'orders' }, envelope };
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
    it('shows rows only after commit', async function () {
      const { outbox, unitOfWork } = new MemoryPersistence();
      await rejection(
        unitOfWork.transaction(async (tx) => {
          await outbox.add(tx, [message('m0')]);
          throw new Error('rolled back');
        }),
      );
      let inside: number | undefined;
      await unitOfWork.transaction(async (tx) => {
        await outbox.add(tx, [message('m1'), message('m2')]);
        inside = (await outbox.backlog()).pending;
      });
      expect(inside).to.equal(0, 'nothing is visible before commit');
      const backlog = await outbox.backlog();
      expect(backlog.pending).to.equal(2);
      expect(backlog.oldestPendingAt).to.be.instanceOf(Date);
    });

    it('purges kept rows published strictly before the cut-off', async function () {
      const clock = new ManualClock();
      const { outbox, unitOfWork } = new MemoryPersistence({ clock });
      await unitOfWork.transaction((tx) => outbox.add(tx, [message('a')]));
      const [a] = await outbox.claim('r', 10, 1_000);
      await outbox.markPublished([a!.id], true);
      expect(outbox.size).to.equal(1);
      expect(await outbox.purgePublished(new Date(clock.time))).to.equal(0, 'published at the cut-off');
      clock.time += 1;
      expect(await outbox.purgePublished(new Date(clock.time))).to.equal(1);
      expect(outbox.size).to.equal(0);
    });
  });
});

runPersistenceConformance<MemoryTransaction>('memory', {
  async createPersistence() {
    const persistence = new MemoryPersistence();
    return {
      persistence,
      async createTable() {}, // tables appear with their first write
      async insert(tx, table, key) {
        tx.put(table, String(key), key);
      },
      async keys(table) {
        return [...persistence.table(table).values()].map(Number).sort((a, b) => a - b);
      },
      async close() {},
    };
  },
});
