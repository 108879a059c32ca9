import type { ChildProcess } from 'node:child_process';
import { expect } from './expect.js';
import { constant } from '../backoff.js';
import { Bus } from '../bus.js';
import type { EventContract } from '../contracts.js';
import { defineEvent } from '../contracts.js';
import type { HandlerClass } from '../decorators.js';
import { Handle, Subscriber } from '../decorators.js';
import type { Envelope } from '../envelope.js';
import { MemoryTransport } from '../memory/memory-transport.js';
import type { MessageContext } from '../message-context.js';
import { OutboxRelay } from '../outbox-relay.js';
import type { OutboxMessage, OutboxStore, Persistence } from '../persistence.js';
import type { Destination } from '../transport.js';
import { collectChannel } from './collect.js';
import { bridgeIpc } from './ipc-transport.js';
import { uniqueName } from './names.js';
import type { RelayProcessModule, RelayProcessOptions } from './relay-process.js';
import { forkRelayProcess, relayProcessReady, stopRelayProcess } from './relay-process.js';
import { waitFor } from './wait-for.js';

/**
 * One store under test: a started persistence over fresh, empty tables of its own (a new file, a new
 * schema...), and the store-specific ways to reach the application's tables from the suite.
 */
export interface PersistenceUnderTest<Tx> {
  readonly persistence: Persistence<Tx> & { readonly outbox: OutboxStore<Tx> };
  /** Creates the empty business table `table` (one integer primary key), outside any unit of work. */
  createTable(table: string): Promise<void>;
  /** Inserts `key` into `table` inside the unit of work's `tx`. */
  insert(tx: Tx, table: string, key: number): Promise<void>;
  /** The committed keys of `table`, ascending. */
  keys(table: string): Promise<number[]>;
  /**
   * A module that opens this same store in another process and calls `serveOutboxRelay` (from this
   * subpath). Omitted where the store cannot be shared between processes: the multi-process tests skip.
   */
  readonly relayProcess?: RelayProcessModule;
  /** Closes the persistence and drops what the test left (file, schema); run after each test. */
  close(): Promise<void>;
}

/** A store whose database the test can take away and give back. */
export interface PersistenceWithOutage<Tx> extends PersistenceUnderTest<Tx> {
  /** From now on, until `endOutage`, the persistence's transactions and claims fail (database gone). */
  beginOutage(): Promise<void>;
  endOutage(): Promise<void>;
}

export interface PersistenceConformanceOptions<Tx> {
  /** A new store for every test; the suite closes it after the test. */
  readonly createPersistence: () => Promise<PersistenceUnderTest<Tx>>;
  /**
   * A new store with an outage switch (SQLite: a write lock held by another connection, with a short
   * busy timeout; PostgreSQL: its login refused and its connections terminated). Without it the outage
   * test is skipped.
   */
  readonly createPersistenceWithOutage?: () => Promise<PersistenceWithOutage<Tx>>;
  /** Deadline for each wait. Default 20 s. */
  readonly waitMs?: number;
}

interface RowV1 {
  key: string;
  seq: number;
}

/** What the suite skipped and why, printed at the end of the run. */
const skipped: string[] = [];

/**
 * The one conformance suite every persistence (unit of work, inbox, outbox store) passes: the rules
 * written in the doc comments of `persistence.ts`, then the same rules seen through a Bus and relays,
 * in one process and in two. Each test gets a fresh store and fresh channel names; a test is skipped only
 * where the store lacks the hook it needs, and every skip is printed with its reason.
 */
export function runPersistenceConformance<Tx>(
  name: string,
  options: PersistenceConformanceOptions<Tx>,
): void {
  const waitMs = options.waitMs ?? 20_000;
  const cleanup: (() => Promise<void> | void)[] = [];

  describe(`${name} persistence conformance`, function () {
    this.timeout(Math.max(60_000, waitMs * 3));

    afterEach(async function () {
      for (const step of cleanup.splice(0).reverse()) await step();
    });

    after(function () {
      const mine = skipped.filter((line) => line.startsWith(`${name}:`));
      if (mine.length > 0)
        console.log(
          `\n  ${name} persistence conformance skipped ${mine.length}:\n    ${mine.join('\n    ')}`,
        );
    });

    function skipUnless(context: Mocha.Context, condition: boolean, reason: string): asserts condition {
      if (condition) return;
      skipped.push(`${name}: ${context.test?.title ?? '?'}: ${reason}`);
      context.skip();
    }

    async function open(): Promise<PersistenceUnderTest<Tx>> {
      const store = await options.createPersistence();
      cleanup.push(() => store.close());
      return store;
    }

    const until = (condition: () => boolean | Promise<boolean>, message: string, timeoutMs = waitMs) =>
      waitFor(condition, { timeoutMs, message });

    /** The error `work` rejects with; fails when it resolves. */
    async function rejection(work: Promise<unknown>): Promise<unknown> {
      return work.then(
        () => expect.fail('expected a rejection'),
        (error: unknown) => error,
      );
    }

    const ids = (records: readonly { readonly envelope: Envelope }[]) => records.map((r) => r.envelope.id);

    describe('unit of work, inbox and outbox', function () {
      it('commits business rows and outbox rows together, or neither, keeping the envelope intact', async function () {
        const store = await open();
        const { outbox, unitOfWork } = store.persistence;
        await store.createTable('orders');
        await unitOfWork.transaction(async (tx) => {
          await store.insert(tx, 'orders', 1);
          await outbox.add(tx, [message('m1', 'K')]);
        });
        const failure = new Error('rolled back');
        const thrown = await rejection(
          unitOfWork.transaction(async (tx) => {
            await store.insert(tx, 'orders', 2);
            await outbox.add(tx, [message('m2')]);
            throw failure;
          }),
        );
        expect(thrown, 'the error work threw, unchanged').to.equal(failure);
        expect(await store.keys('orders')).to.deep.equal([1]);
        expect(await outbox.backlog()).to.deep.include({ pending: 1, failed: 0 });
        const [record, ...rest] = await outbox.claim('r', 10, 60_000);
        expect(rest).to.have.length(0);
        expect(record!.destination).to.deep.equal(ROWS);
        expect(record!.envelope).to.deep.include({ id: 'm1', type: 't.Row', key: 'K' });
        expect(record!.envelope.headers).to.deep.equal(HEADERS);
        expect([...record!.envelope.body]).to.deep.equal([0, 1, 255]);
        expect(record!.attempts).to.equal(1);
        expect(record!.createdAt).to.be.instanceOf(Date);
      });

      it('records an inbox id once per group, forgets a rolled-back one, and purges by age', async function () {
        const { inbox, unitOfWork } = (await open()).persistence;
        const record = (group: string, id: string) =>
          unitOfWork.transaction((tx) => inbox.record(tx, group, id));
        expect(await record('g', 'm1')).to.equal(true);
        expect(await record('g', 'm1')).to.equal(false, 'a duplicate');
        expect(await record('h', 'm1')).to.equal(true, 'another group');
        let firstTime: boolean | undefined;
        await rejection(
          unitOfWork.transaction(async (tx) => {
            firstTime = await inbox.record(tx, 'g', 'm2');
            throw new Error('handler failed');
          }),
        );
        expect(firstTime).to.equal(true);
        expect(await record('g', 'm2')).to.equal(true, 'the rolled-back record is forgotten');
        expect(await inbox.purge(new Date(Date.now() - 60_000))).to.equal(0);
        expect(await inbox.purge(new Date(Date.now() + 60_000))).to.equal(3);
        expect(await record('g', 'm1')).to.equal(true, 'purged: handled again');
      });

      it('claims per-key prefixes, skips leased keys, re-offers expired leases', async function () {
        const { outbox, unitOfWork } = (await open()).persistence;
        await unitOfWork.transaction((tx) =>
          outbox.add(tx, [message('a1', 'A'), message('b1', 'B'), message('a2', 'A'), message('n1')]),
        );
        await unitOfWork.transaction((tx) =>
          outbox.add(tx, [message('a3', 'A'), message('c1', 'C'), message('a1-elsewhere', 'A', ELSEWHERE)]),
        );
        const first = await outbox.claim('r1', 2, 60_000);
        expect(ids(first)).to.deep.equal(['a1', 'b1']);
        expect(first.map((r) => r.attempts)).to.deep.equal([1, 1]);
        const second = await outbox.claim('r2', 10, 60_000);
        expect(ids(second)).to.deep.equal(
          ['n1', 'c1', 'a1-elsewhere'],
          'key A waits behind r1; the same key on another destination is another ordering key',
        );
        expect(second.map((r) => r.destination)).to.deep.equal([ROWS, ROWS, ELSEWHERE]);
        expect(await outbox.claim('r3', 10, 60_000)).to.deep.equal([], 'everything is leased');

        await outbox.markPublished([first[0]!.id], false);
        await outbox.release('r2', [first[1]!.id]);
        const third = await outbox.claim('r3', 10, 60_000);
        expect(ids(third)).to.deep.equal(['a2', 'a3'], "b1 is still r1's: r2 cannot release it");
        await outbox.release('r1', [first[1]!.id]);
        const fourth = await outbox.claim('r4', 10, 50);
        expect(ids(fourth)).to.deep.equal(['b1']);
        expect(fourth[0]!.attempts).to.equal(2);
        let again: string[] = [];
        await until(async () => {
          again = ids(await outbox.claim('r5', 10, 60_000));
          return again.length > 0;
        }, "r4's lease to expire");
        expect(again).to.deep.equal(['b1'], 'r4 died: its lease expired');
        await outbox.release('r4', [fourth[0]!.id]);
        expect(await outbox.claim('r6', 10, 60_000)).to.deep.equal(
          [],
          "a stale owner cannot release another's lease",
        );
      });

      it('re-offers an expired lease together with the rest of its key', async function () {
        const { outbox, unitOfWork } = (await open()).persistence;
        await unitOfWork.transaction((tx) => outbox.add(tx, [message('a1', 'A'), message('a2', 'A')]));
        expect(ids(await outbox.claim('dead', 1, 50))).to.deep.equal(['a1']);
        expect(await outbox.claim('alive', 10, 60_000)).to.deep.equal([], 'a2 waits behind the lease on a1');
        let again: string[] = [];
        await until(async () => {
          again = ids(await outbox.claim('alive', 10, 60_000));
          return again.length > 0;
        }, 'the lease on a1 to expire');
        expect(again).to.deep.equal(['a1', 'a2']);
      });

      it('sets a failed row aside: only its lease holder can, and it no longer holds back its key', async function () {
        const { outbox, unitOfWork } = (await open()).persistence;
        await unitOfWork.transaction((tx) => outbox.add(tx, [message('a1', 'A'), message('a2', 'A')]));
        const [a1] = await outbox.claim('r', 1, 60_000);
        await outbox.markFailed('someone-else', a1!.id, 'too large');
        expect(await outbox.backlog()).to.deep.include(
          { pending: 2, failed: 0 },
          'only the lease holder gives up a row',
        );
        await outbox.markFailed('r', a1!.id, 'too large');
        expect(ids(await outbox.claim('r', 10, 60_000))).to.deep.equal(['a2']);
        expect(await outbox.claim('r', 10, 60_000)).to.deep.equal([], 'a failed row is not claimed');
        expect(await outbox.backlog()).to.deep.include({ pending: 1, failed: 1 });
      });

      it('keeps published rows when asked, until they are purged by publish time', async function () {
        const { outbox, unitOfWork } = (await open()).persistence;
        await unitOfWork.transaction((tx) => outbox.add(tx, [message('a'), message('b'), message('c')]));
        const [a, b, c] = await outbox.claim('r', 10, 60_000);
        await outbox.markPublished([a!.id], true);
        await outbox.markPublished([b!.id], false);
        const backlog = await outbox.backlog();
        expect(backlog).to.deep.include({ pending: 1, failed: 0 });
        expect(backlog.oldestPendingAt).to.be.instanceOf(Date);
        await outbox.release('r', [a!.id, c!.id]);
        expect(ids(await outbox.claim('r2', 10, 60_000))).to.deep.equal(
          ['c'],
          'a published row is not released for another publish',
        );
        expect(await outbox.purgePublished(new Date(Date.now() - 60_000))).to.equal(0);
        expect(await outbox.purgePublished(new Date(Date.now() + 60_000))).to.equal(1, 'a kept, b deleted');
        expect(await outbox.purgePublished(new Date(Date.now() + 60_000))).to.equal(0);
        expect(await outbox.backlog()).to.deep.include({ pending: 1, failed: 0 });
      });

      it('wakes listeners after a commit that added rows, not after a rollback, and not once closed', async function () {
        const { outbox, unitOfWork } = (await open()).persistence;
        skipUnless(this, outbox.listen !== undefined, 'the store has no commit notifications (listen)');
        const calls = [0, 0];
        const first = await outbox.listen(() => calls[0]!++);
        const second = await outbox.listen(() => calls[1]!++);
        cleanup.push(async () => {
          await Promise.all([first.close(), second.close()]);
        });
        await rejection(
          unitOfWork.transaction(async (tx) => {
            await outbox.add(tx, [message('m0')]);
            throw new Error('rolled back');
          }),
        );
        await unitOfWork.transaction((tx) => outbox.add(tx, [message('m1'), message('m2')]));
        await until(() => calls[0]! >= 1 && calls[1]! >= 1, 'both listeners woken by the commit');
        expect(await outbox.backlog()).to.deep.include({ pending: 2 });
        await first.close();
        await unitOfWork.transaction((tx) => outbox.add(tx, [message('m3')]));
        await until(() => calls[1]! >= 2, 'the open listener woken by the second commit');
        expect(calls).to.deep.equal([1, 2], 'one wake-up a commit; none for the rollback or once closed');
      });
    });

    describe('with a Bus and relays', function () {
      let transport: MemoryTransport;
      let Row: EventContract<RowV1>;

      beforeEach(function () {
        transport = new MemoryTransport({ maxQueueDepth: 20_000 });
        Row = defineEvent<RowV1>({
          type: 't.Row',
          channel: uniqueName('rows'),
          key: (r) => r.key,
          ordered: true,
        });
        cleanup.push(() => transport.close());
      });

      function bus(
        store: PersistenceUnderTest<Tx>,
        handlers: HandlerClass[] = [],
        retry = { attempts: 3, backoff: constant(0) },
      ): Bus {
        const created = new Bus({
          transport,
          outboxRelay: false, // the test runs its own relays
          serviceName: 'test',
          persistence: store.persistence,
          handlers,
          closeTransport: false,
          retry,
        });
        cleanup.push(() => created.stop());
        return created;
      }

      function relay(
        store: PersistenceUnderTest<Tx>,
        settings: { pollIntervalMs?: number; batchSize?: number } = {},
      ) {
        const created = new OutboxRelay({ store: store.persistence.outbox, transport, ...settings });
        cleanup.push(() => created.stop());
        return created;
      }

      /**
       * A handler of Row (group `table`) that, in its unit of work, inserts the row's seq into `table` and
       * publishes the row again as `next`; then a negative seq throws, rolling both back.
       */
      function rowWriter(
        store: PersistenceUnderTest<Tx>,
        table: string,
        next: EventContract<RowV1>,
      ): HandlerClass {
        const row = Row;
        @Subscriber({ group: table })
        class RowWriter {
          @Handle(row)
          async handle(event: RowV1, ctx: MessageContext) {
            await store.insert(ctx.tx as Tx, table, event.seq);
            await ctx.publish(next, event);
            if (event.seq < 0) throw new Error('poison');
          }
        }
        return RowWriter;
      }

      function spawnRelay(spec: RelayProcessModule, relayOptions: RelayProcessOptions): ChildProcess {
        const child = forkRelayProcess(spec, relayOptions);
        cleanup.push(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        });
        return child;
      }

      it('commits a handler row and its outbox row together; a throwing handler leaves neither', async function () {
        const store = await open();
        await store.createTable('seen');
        const Done = defineEvent<RowV1>({ type: 't.Done', channel: uniqueName('done'), key: (r) => r.key });
        const running = bus(store, [rowWriter(store, 'seen', Done)]);
        await running.start();
        await running.publish(Row, { key: 'ok', seq: 1 });
        await running.publish(Row, { key: 'bad', seq: -1 });
        await until(
          () => running.stats.handled === 1 && running.stats.deadLettered === 1,
          'one handled, one dead-lettered',
        );
        expect(await store.keys('seen')).to.deep.equal([1]);
        const records = await store.persistence.outbox.claim('check', 10, 1_000);
        expect(records.map((r) => r.destination)).to.deep.equal([{ kind: 'channel', channel: Done.channel }]);
        expect(records[0]!.envelope.key).to.equal('ok');
      });

      it('runs a handler once for a duplicate delivery', async function () {
        const store = await open();
        const seen: number[] = [];
        const row = Row;
        @Subscriber({ group: 'once' })
        class Once {
          @Handle(row)
          handle(event: RowV1) {
            seen.push(event.seq);
          }
        }
        const running = bus(store, [Once]);
        await running.start();
        await running.publish(Row, { key: 'k', seq: 7 }, { id: 'dup' });
        await running.publish(Row, { key: 'k', seq: 7 }, { id: 'dup' });
        await until(
          () => running.stats.received === 2 && running.stats.duplicates === 1,
          'both deliveries, one a duplicate',
        );
        expect(seen).to.deep.equal([7]);
      });

      it('bus.transaction commits business rows and outbox rows together, or neither', async function () {
        const store = await open();
        await store.createTable('orders');
        const running = bus(store);
        await running.start();
        await running.transaction(async ({ tx, publish }) => {
          await store.insert(tx as Tx, 'orders', 1);
          await publish(Row, { key: 'o1', seq: 1 });
        });
        const failed = await rejection(
          running.transaction(async ({ tx, publish }) => {
            await store.insert(tx as Tx, 'orders', 2);
            await publish(Row, { key: 'o2', seq: 2 });
            throw new Error('validation failed');
          }),
        );
        expect(failed).to.have.property('message', 'validation failed');
        expect(await store.keys('orders')).to.deep.equal([1]);
        expect(await store.persistence.outbox.backlog()).to.deep.include({ pending: 1 });
        const [record] = await store.persistence.outbox.claim('check', 10, 1_000);
        expect(record!.envelope.key).to.equal('o1');
      });

      it('two relays (two processes) publish 10,000 rows: none lost, per-key order kept', async function () {
        this.timeout(120_000);
        const store = await open();
        skipUnless(
          this,
          store.relayProcess !== undefined,
          'the store lives in one process: no relay in another',
        );
        const writer = bus(store);
        await writer.start();
        const received = await collectChannel(transport, Row.channel, 'reader', 64);
        const total = 10_000;
        const write = async (from: number, to: number) => {
          for (let start = from; start < to; start += 500) {
            await writer.transaction(async ({ publish }) => {
              for (let seq = start; seq < start + 500; seq++)
                await publish(Row, { key: `k${seq % 200}`, seq });
            });
          }
        };
        // Half waits before the relays start, half is written while they run.
        await write(0, total / 2);
        const child = spawnRelay(store.relayProcess, { leaseMs: 30_000, batchSize: 50, pollIntervalMs: 20 });
        const fromChild = bridgeIpc(child, transport);
        await relayProcessReady(child);
        const local = relay(store, { batchSize: 50 });
        await local.start();
        await write(total / 2, total);
        await until(() => received.length >= total, `${total} rows`, 100_000);
        const seqs = received.map((e) => (JSON.parse(Buffer.from(e.body).toString()) as RowV1).seq);
        expect(new Set(seqs).size).to.equal(total);
        expect(received.length).to.equal(total, 'no duplicates without a crash');
        const last = new Map<string, number>();
        for (let i = 0; i < received.length; i++) {
          const key = received[i]!.key!;
          expect(seqs[i]).to.be.greaterThan(last.get(key) ?? -1, `order of ${key}`);
          last.set(key, seqs[i]!);
        }
        expect(fromChild.published, 'the child relay published').to.be.greaterThan(0);
        expect(local.metrics.published, 'the local relay published').to.be.greaterThan(0);
        // Both counters move just after the broker has the messages: wait for them to settle.
        await until(
          () => fromChild.published + local.metrics.published === total,
          'every row published by exactly one relay',
        );
        await stopRelayProcess(child);
      });

      it('loses nothing when a relay process is killed mid-batch; the inbox absorbs the duplicates', async function () {
        const store = await open();
        skipUnless(
          this,
          store.relayProcess !== undefined,
          'the store lives in one process: no relay in another',
        );
        const handled = new Map<string, number[]>();
        let runs = 0;
        const row = Row;
        @Subscriber({ group: 'downstream' })
        class Downstream {
          @Handle(row)
          handle(event: RowV1) {
            runs++;
            const seqs = handled.get(event.key) ?? [];
            seqs.push(event.seq);
            handled.set(event.key, seqs);
          }
        }
        const running = bus(store, [Downstream]);
        await running.start();
        const total = 1_000;
        for (let start = 0; start < total; start += 100) {
          await running.transaction(async ({ publish }) => {
            for (let seq = start; seq < start + 100; seq++) await publish(Row, { key: `k${seq % 50}`, seq });
          });
        }
        const child = spawnRelay(store.relayProcess, { leaseMs: 500, batchSize: 100, pollIntervalMs: 20 });
        let stalled = false;
        // The third batch reaches the broker but is never confirmed: the child dies holding its lease.
        bridgeIpc(child, transport, { stallAfter: 250, onStall: () => (stalled = true) });
        await until(() => stalled, 'the child relay to be mid-batch');
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;

        const recovery = relay(store, { pollIntervalMs: 20 });
        await recovery.start();
        await until(
          () => runs === total && running.stats.duplicates === 100,
          'every row handled once, the stuck batch absorbed as duplicates',
          30_000,
        );
        await until(() => recovery.metrics.published === total - 200, 'the stuck batch, again');
        expect(running.stats.received).to.equal(total + 100, 'each duplicate absorbed, none handled twice');
        expect(runs).to.equal(total);
        for (const [key, seqs] of handled) {
          expect(seqs, `order of ${key}`).to.deep.equal([...seqs].sort((a, b) => a - b));
        }
        expect(await recovery.lag()).to.deep.include({ pending: 0, lagMs: 0 });
      });

      it('pauses consumption and relaying during a database outage (no ack without commit), then resumes', async function () {
        skipUnless(
          this,
          options.createPersistenceWithOutage !== undefined,
          'no way to take the database away (an in-memory store cannot fail)',
        );
        const store = await options.createPersistenceWithOutage();
        cleanup.push(() => store.close());
        await store.createTable('effects');
        const Echo = defineEvent<RowV1>({ type: 't.Echo', channel: uniqueName('echo'), key: (r) => r.key });
        const running = bus(store, [rowWriter(store, 'effects', Echo)], {
          attempts: 1_000,
          backoff: constant(20),
        });
        await running.start();
        const echoed = await collectChannel(transport, Echo.channel, 'echo', 8);
        const relaying = new OutboxRelay({
          store: store.persistence.outbox,
          transport,
          pollIntervalMs: 50,
          backoff: constant(50),
        });
        cleanup.push(() => relaying.stop());
        await relaying.start();

        await store.beginOutage();
        let ended = false;
        cleanup.push(() => (ended ? undefined : store.endOutage()));
        for (let seq = 0; seq < 20; seq++) await running.publish(Row, { key: `k${seq % 3}`, seq });
        await until(
          () => running.stats.retried >= 20 && relaying.metrics.storeErrors >= 2,
          'handlers and the relay to fail against the missing database',
        );
        expect(running.stats).to.deep.include({ handled: 0, deadLettered: 0 });

        ended = true;
        await store.endOutage();
        await until(() => running.stats.handled === 20, 'all 20 handled after the outage', 30_000);
        await until(() => echoed.length === 20, 'all 20 echoes relayed after the outage', 30_000);
        expect(await store.keys('effects')).to.deep.equal([...Array(20).keys()]);
        expect(running.stats.deadLettered).to.equal(0);
        expect(new Set(echoed.map((e) => e.id)).size).to.equal(20);
      });
    });
  });
}

const ROWS: Destination = { kind: 'queue', queue: 'rows' };
/** The same name as {@link ROWS} on another kind of destination: another ordering key. */
const ELSEWHERE: Destination = { kind: 'channel', channel: 'rows' };
const HEADERS = { datacontenttype: 'application/json', 'x-custom': 'yes, ünïcödé = fine' };

function message(id: string, key?: string, destination: Destination = ROWS): OutboxMessage {
  const envelope: Envelope = {
    id,
    type: 't.Row',
    headers: { ...HEADERS },
    body: new Uint8Array([0, 1, 255]),
    ...(key === undefined ? {} : { key }),
  };
  return { destination, envelope };
}
