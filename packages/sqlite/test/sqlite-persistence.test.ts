import 'reflect-metadata';
import { expect } from 'chai';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Envelope, EventContract, MessageContext, OutboxMessage } from '@omnibus/core';
import {
  Bus,
  ConfigurationError,
  Handle,
  MemoryTransport,
  OutboxRelay,
  Subscriber,
  constant,
  defineEvent,
} from '@omnibus/core';
import { collectChannel, uniqueName, waitFor } from '@omnibus/core/testing';
import { SqlitePersistence, migrate } from '../src/index.js';
import { bridgeIpc as bridge } from '@omnibus/core/testing';

interface RowV1 {
  key: string;
  seq: number;
}

const relayProcess = fileURLToPath(new URL('./fixtures/relay-process.js', import.meta.url));

function message(id: string, key?: string): OutboxMessage {
  const envelope: Envelope = {
    id,
    type: 't.Row',
    headers: { datacontenttype: 'application/json' },
    body: new Uint8Array([1, 2, 3]),
    ...(key === undefined ? {} : { key }),
  };
  return { destination: { kind: 'channel', channel: 'rows' }, envelope };
}

describe('SqlitePersistence', function () {
  let directory: string;
  let path: string;
  const cleanup: (() => Promise<void> | void)[] = [];

  beforeEach(function () {
    directory = mkdtempSync(join(tmpdir(), 'omnibus-sqlite-'));
    path = join(directory, 'app.db');
  });
  afterEach(async function () {
    for (const step of cleanup.splice(0).reverse()) await step();
    rmSync(directory, { recursive: true, force: true });
  });

  async function open(options: Partial<ConstructorParameters<typeof SqlitePersistence>[0]> = {}) {
    const persistence = new SqlitePersistence({ path, ...options });
    await persistence.start();
    cleanup.push(() => persistence.close());
    return persistence;
  }

  function spawnRelay(leaseMs: number, batchSize: number): ChildProcess {
    const child = fork(relayProcess, [path, String(leaseMs), String(batchSize)], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    cleanup.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    return child;
  }

  async function ready(child: ChildProcess): Promise<void> {
    const [message] = (await once(child, 'message')) as [{ kind: string }];
    expect(message.kind).to.equal('ready');
  }

  describe('schema', function () {
    it('migrates once, from several processes at once, and says what it applied', async function () {
      const results = await Promise.all([migrate({ path }), migrate({ path }), migrate({ path })]);
      expect(results.flat()).to.deep.equal(['outbox and inbox']);
      expect(await migrate({ path })).to.deep.equal([]);
      const children = [1, 2, 3].map(() =>
        fork(
          fileURLToPath(new URL('./fixtures/migrate-process.js', import.meta.url)),
          [join(directory, 'other.db')],
          { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
        ),
      );
      const applied = await Promise.all(
        children.map(async (child) => ((await once(child, 'message')) as [string[]])[0]),
      );
      expect(applied.flat()).to.deep.equal(['outbox and inbox'], 'exactly one process applied it');
      const database = new DatabaseSync(join(directory, 'other.db'));
      expect(database.prepare('SELECT count(*) AS n FROM omnibus_migrations').get()!.n).to.equal(1);
      expect(database.prepare('PRAGMA journal_mode').get()!.journal_mode).to.equal('wal');
      database.close();
    });

    it('refuses use before start and validates its options, naming the field', async function () {
      const persistence = new SqlitePersistence({ path });
      cleanup.push(() => persistence.close());
      const early = await persistence.unitOfWork
        .transaction(async () => undefined)
        .catch((error: unknown) => error);
      expect(early).to.be.instanceOf(ConfigurationError).with.property('field', 'start');
      expect(() => new SqlitePersistence({ path: '' }))
        .to.throw(ConfigurationError)
        .with.property('field', 'path');
      expect(() => new SqlitePersistence({ path, busyTimeoutMs: -1 }))
        .to.throw(ConfigurationError)
        .with.property('field', 'busyTimeoutMs');
      expect(() => new SqlitePersistence({ path, inboxRetentionMs: 0 }))
        .to.throw(ConfigurationError)
        .with.property('field', 'inboxRetentionMs');
    });

    it('opens a new file while another connection holds its write lock, waiting as a write does', async function () {
      // Switching a new file to WAL under another connection's write lock fails at once in SQLite (no busy
      // wait): several processes starting on one new file met "database is locked" here.
      const holder = new Worker(
        `const { DatabaseSync } = require('node:sqlite');
         const { parentPort, workerData } = require('node:worker_threads');
         const database = new DatabaseSync(workerData);
         database.exec('BEGIN IMMEDIATE; CREATE TABLE held (x)');
         parentPort.postMessage('locked');
         setTimeout(() => { database.exec('COMMIT'); database.close(); }, 300);`,
        { eval: true, workerData: path },
      );
      cleanup.push(async () => {
        await holder.terminate();
      });
      await once(holder, 'message');
      const persistence = await open();
      expect(persistence.database.prepare('PRAGMA journal_mode').get()!.journal_mode).to.equal('wal');
      expect(
        persistence.database.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'held'").get()!.n,
      ).to.equal(1);

      const other = join(directory, 'other.db');
      const lock = new DatabaseSync(other);
      lock.exec('BEGIN IMMEDIATE');
      expect(() => new SqlitePersistence({ path: other, busyTimeoutMs: 50 }))
        .to.throw()
        .with.property('code', 'PERSISTENCE_UNAVAILABLE');
      lock.exec('ROLLBACK');
      lock.close();
    });
  });

  describe('unit of work, inbox and outbox', function () {
    it('commits business rows and outbox rows together, or neither', async function () {
      const persistence = await open();
      persistence.database.exec('CREATE TABLE orders (id TEXT PRIMARY KEY)');
      await persistence.unitOfWork.transaction(async (tx) => {
        tx.prepare('INSERT INTO orders VALUES (?)').run('o1');
        await persistence.outbox.add(tx, [message('m1')]);
      });
      const failure = new Error('rolled back');
      const thrown = await persistence.unitOfWork
        .transaction(async (tx) => {
          tx.prepare('INSERT INTO orders VALUES (?)').run('o2');
          await persistence.outbox.add(tx, [message('m2')]);
          throw failure;
        })
        .catch((error: unknown) => error);
      expect(thrown).to.equal(failure);
      expect(
        persistence.database
          .prepare('SELECT id FROM orders')
          .all()
          .map((r) => r.id),
      ).to.deep.equal(['o1']);
      expect(await persistence.outbox.backlog()).to.deep.include({ pending: 1, failed: 0 });
    });

    it('refuses a nested unit of work instead of deadlocking', async function () {
      const persistence = await open();
      const error = await persistence.unitOfWork
        .transaction(() => persistence.unitOfWork.transaction(async () => undefined))
        .catch((e: unknown) => e);
      expect(error).to.have.property('code', 'NESTED_TRANSACTION');
    });

    it('records an inbox id once per group, forgets a rolled-back one, and purges by age', async function () {
      const { inbox, unitOfWork } = await open();
      const record = (group: string, id: string) =>
        unitOfWork.transaction((tx) => inbox.record(tx, group, id));
      expect(await record('g', 'm1')).to.equal(true);
      expect(await record('g', 'm1')).to.equal(false);
      expect(await record('h', 'm1')).to.equal(true);
      await unitOfWork
        .transaction(async (tx) => {
          await inbox.record(tx, 'g', 'm2');
          throw new Error('handler failed');
        })
        .catch(() => undefined);
      expect(await record('g', 'm2')).to.equal(true);
      expect(await inbox.purge(new Date(Date.now() + 1))).to.equal(3);
      expect(await record('g', 'm1')).to.equal(true);
    });

    it('purges inbox records older than the retention on start', async function () {
      let persistence = await open();
      await persistence.unitOfWork.transaction((tx) => persistence.inbox.record(tx, 'g', 'old'));
      await persistence.close();
      persistence = await open({ inboxRetentionMs: 1 });
      await waitFor(async () =>
        persistence.unitOfWork.transaction((tx) => persistence.inbox.record(tx, 'g', 'old')),
      );
    });

    it('claims per-key prefixes, skips leased keys, and re-offers expired leases', async function () {
      const { outbox, unitOfWork } = await open();
      await unitOfWork.transaction((tx) =>
        outbox.add(tx, [message('a1', 'A'), message('b1', 'B'), message('a2', 'A'), message('n1')]),
      );
      await unitOfWork.transaction((tx) => outbox.add(tx, [message('a3', 'A'), message('c1', 'C')]));
      const first = await outbox.claim('r1', 2, 60_000);
      expect(first.map((r) => r.envelope.id)).to.deep.equal(['a1', 'b1']);
      expect(first[0]).to.deep.include({ attempts: 1, destination: { kind: 'channel', channel: 'rows' } });
      expect(first[0]!.envelope).to.deep.include({ key: 'A', type: 't.Row' });
      expect([...first[0]!.envelope.body]).to.deep.equal([1, 2, 3]);
      expect(first[0]!.envelope.headers).to.deep.equal({ datacontenttype: 'application/json' });
      const second = await outbox.claim('r2', 10, 60_000);
      expect(second.map((r) => r.envelope.id)).to.deep.equal(['n1', 'c1']);

      await outbox.markPublished([first[0]!.id], false);
      await outbox.release('r2', [first[1]!.id]);
      const third = await outbox.claim('r3', 10, 60_000);
      expect(third.map((r) => r.envelope.id)).to.deep.equal(
        ['a2', 'a3'],
        "b1 is still r1's: r2 cannot release it",
      );
      await outbox.release('r1', [first[1]!.id]);
      expect((await outbox.claim('r4', 10, 30)).map((r) => r.envelope.id)).to.deep.equal(['b1']);
      let again: string[] = [];
      await waitFor(async () => {
        again = (await outbox.claim('r5', 10, 60_000)).map((r) => r.envelope.id);
        return again.length > 0;
      });
      expect(again).to.deep.equal(['b1'], 'r4 died: its lease expired');
    });

    it('sets failed rows aside and keeps published rows until purged', async function () {
      const { outbox, unitOfWork } = await open();
      await unitOfWork.transaction((tx) =>
        outbox.add(tx, [message('a1', 'A'), message('a2', 'A'), message('x')]),
      );
      const [a1, , x] = await outbox.claim('r', 10, 60_000);
      await outbox.markFailed('r', a1!.id, 'too large');
      await outbox.markPublished([x!.id], true);
      expect(await outbox.backlog()).to.deep.include({ pending: 1, failed: 1 });
      await outbox.release(
        'r',
        (await outbox.claim('r', 10, 60_000)).map((r) => r.id),
      );
      expect(await outbox.purgePublished(new Date(Date.now() + 1))).to.equal(1);
      const backlog = await outbox.backlog();
      expect(backlog.oldestPendingAt).to.be.instanceOf(Date);
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

    function bus(persistence: SqlitePersistence, handlers: (new () => object)[] = []): Bus {
      const created = new Bus({
        transport,
        outboxRelay: false, // the test runs its own relays
        serviceName: 'test',
        persistence,
        handlers,
        closeTransport: false,
        retry: { attempts: 3, backoff: constant(0) },
      });
      cleanup.push(() => created.stop());
      return created;
    }

    it('commits a handler row and its outbox row together; a throwing handler leaves neither', async function () {
      const persistence = await open();
      persistence.database.exec('CREATE TABLE seen (seq INTEGER PRIMARY KEY)');
      const Done = defineEvent<RowV1>({ type: 't.Done', channel: uniqueName('done') });
      const row = Row;
      @Subscriber({ group: 'writer' })
      class Writer {
        @Handle(row)
        async handle(event: RowV1, ctx: MessageContext) {
          (ctx.tx as DatabaseSync).prepare('INSERT INTO seen VALUES (?)').run(event.seq);
          await ctx.publish(Done, event);
          if (event.seq < 0) throw new Error('poison');
        }
      }
      const running = bus(persistence, [Writer]);
      await running.start();
      await running.publish(Row, { key: 'k', seq: 1 });
      await running.publish(Row, { key: 'k', seq: -1 });
      await waitFor(() => running.stats.handled === 1 && running.stats.deadLettered === 1);
      expect(
        persistence.database
          .prepare('SELECT seq FROM seen')
          .all()
          .map((r) => r.seq),
      ).to.deep.equal([1]);
      const [record, ...rest] = await persistence.outbox.claim('check', 10, 1_000);
      expect(rest).to.have.length(0);
      expect(record!.destination).to.deep.equal({ kind: 'channel', channel: Done.channel });
    });

    it('runs a handler once for a duplicate delivery', async function () {
      const persistence = await open();
      const seen: number[] = [];
      const row = Row;
      @Subscriber({ group: 'once' })
      class Once {
        @Handle(row)
        handle(event: RowV1) {
          seen.push(event.seq);
        }
      }
      const running = bus(persistence, [Once]);
      await running.start();
      await running.publish(Row, { key: 'k', seq: 7 }, { id: 'dup' });
      await running.publish(Row, { key: 'k', seq: 7 }, { id: 'dup' });
      await waitFor(() => running.stats.received === 2 && running.stats.duplicates === 1);
      expect(seen).to.deep.equal([7]);
    });

    it('pauses consumption while the database is locked (no ack without commit) and resumes', async function () {
      const persistence = await open({ busyTimeoutMs: 10 });
      persistence.database.exec('CREATE TABLE effects (seq INTEGER PRIMARY KEY)');
      const row = Row;
      @Subscriber({ group: 'effects' })
      class Effects {
        @Handle(row)
        handle(event: RowV1, ctx: MessageContext) {
          (ctx.tx as DatabaseSync).prepare('INSERT INTO effects VALUES (?)').run(event.seq);
        }
      }
      const running = new Bus({
        transport,
        outboxRelay: false, // the test runs its own relays
        serviceName: 'test',
        persistence,
        handlers: [Effects],
        closeTransport: false,
        retry: { attempts: 1_000, backoff: constant(5) },
      });
      cleanup.push(() => running.stop());
      await running.start();
      const outage = new DatabaseSync(path);
      outage.exec('BEGIN EXCLUSIVE');
      for (let seq = 0; seq < 20; seq++) await running.publish(Row, { key: `k${seq % 3}`, seq });
      await waitFor(() => running.stats.retried >= 20);
      expect(running.stats).to.deep.include({ handled: 0, deadLettered: 0 });
      outage.exec('COMMIT');
      outage.close();
      await waitFor(() => running.stats.handled === 20);
      const effects = persistence.database.prepare('SELECT count(*) AS n FROM effects').get()!;
      expect(effects.n).to.equal(20);
      expect(running.stats.deadLettered).to.equal(0);
    });

    it('two relays (two processes) publish 10,000 rows: none lost, per-key order kept', async function () {
      this.timeout(120_000);
      const persistence = await open();
      const writer = bus(persistence);
      await writer.start();
      const received = await collectChannel(transport, Row.channel, 'reader', 64);
      const total = 10_000;
      for (let start = 0; start < total; start += 500) {
        await writer.transaction(async ({ publish }) => {
          for (let seq = start; seq < start + 500; seq++) await publish(Row, { key: `k${seq % 200}`, seq });
        });
      }
      const child = spawnRelay(30_000, 50);
      const fromChild = bridge(child, transport);
      await ready(child);
      const local = new OutboxRelay({ store: persistence.outbox, transport, batchSize: 50 });
      await local.start();
      cleanup.push(() => local.stop());
      await waitFor(() => received.length >= total, { timeoutMs: 100_000, message: `${total} rows` });
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
      await waitFor(() => fromChild.published + local.metrics.published === total, {
        message: 'every row published by exactly one relay',
      });
      child.send({ kind: 'stop' });
      await once(child, 'exit');
    });

    it('loses nothing when a relay process is killed mid-batch; the inbox absorbs the duplicates', async function () {
      this.timeout(60_000);
      const persistence = await open();
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
      const running = bus(persistence, [Downstream]);
      await running.start();
      const total = 1_000;
      for (let start = 0; start < total; start += 100) {
        await running.transaction(async ({ publish }) => {
          for (let seq = start; seq < start + 100; seq++) await publish(Row, { key: `k${seq % 50}`, seq });
        });
      }
      const child = spawnRelay(500, 100);
      let stalled = false;
      bridge(child, transport, { stallAfter: 250, onStall: () => (stalled = true) });
      await waitFor(() => stalled, { message: 'the child relay to be mid-batch' });
      child.kill('SIGKILL');
      await once(child, 'exit');

      const recovery = new OutboxRelay({ store: persistence.outbox, transport, pollIntervalMs: 20 });
      await recovery.start();
      cleanup.push(() => recovery.stop());
      await waitFor(() => runs === total && running.stats.duplicates === 100, { timeoutMs: 30_000 });
      await waitFor(() => recovery.metrics.published === total - 200, { message: 'the stuck batch, again' });
      expect(running.stats.received).to.equal(total + 100, 'each duplicate absorbed, none handled twice');
      expect(runs).to.equal(total);
      for (const [key, seqs] of handled) {
        expect(seqs, `order of ${key}`).to.deep.equal([...seqs].sort((a, b) => a - b));
      }
      expect(await recovery.lag()).to.deep.include({ pending: 0, lagMs: 0 });
    });
  });
});
