import 'reflect-metadata';
import { expect } from 'chai';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Envelope, EventContract, MessageContext, OutboxMessage } from '@omnibus/core';
import { Bus, Handle, MemoryTransport, OutboxRelay, Subscriber, constant, defineEvent } from '@omnibus/core';
import { collectChannel, describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import pg from 'pg';
import type { PoolClient } from 'pg';
import { PostgresPersistence, migrate } from '../src/index.js';
import { bridgeIpc as bridge } from '@omnibus/core/testing';

const url = process.env.OMNIBUS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/omnibus';
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url));

interface RowV1 {
  key: string;
  seq: number;
}

function message(id: string, key?: string): OutboxMessage {
  const envelope: Envelope = {
    id,
    type: 't.Row',
    headers: { datacontenttype: 'application/json', 'x-custom': 'yes' },
    body: new Uint8Array([0, 1, 255]),
    ...(key === undefined ? {} : { key }),
  };
  return { destination: { kind: 'queue', queue: 'rows' }, envelope };
}

/** A schema name per test: tests never see each other's rows. */
function schemaName(): string {
  return uniqueName('omnibus').replace(/-/g, '_');
}

async function probe(): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  await client.connect();
  await client.end();
}

describeIntegration('PostgresPersistence (real PostgreSQL)', probe, function () {
  let admin: pg.Pool;
  let schema: string;
  const cleanup: (() => Promise<void> | void)[] = [];

  before(function () {
    admin = new pg.Pool({ connectionString: url, max: 3 });
  });
  after(async function () {
    await admin?.end();
  });
  beforeEach(function () {
    schema = schemaName();
  });
  afterEach(async function () {
    for (const step of cleanup.splice(0).reverse()) await step();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });

  async function open(options: Partial<ConstructorParameters<typeof PostgresPersistence>[0]> = {}) {
    const persistence = new PostgresPersistence({ connectionString: url, schema, ...options });
    cleanup.push(() => persistence.close());
    await persistence.start();
    return persistence;
  }

  function spawn(name: string, args: string[]): ChildProcess {
    const child = fork(fixture(name), args, {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    cleanup.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    return child;
  }

  async function ready(child: ChildProcess): Promise<void> {
    const [reply] = (await once(child, 'message')) as [{ kind: string }];
    expect(reply.kind).to.equal('ready');
  }

  describe('schema', function () {
    it('migrates once from several processes at once (advisory lock) and says what it applied', async function () {
      const children = [1, 2, 3].map(() => spawn('migrate-process', [url, schema]));
      const applied = await Promise.all(
        children.map(async (child) => ((await once(child, 'message')) as [string[]])[0]),
      );
      expect(applied.flat()).to.deep.equal(['outbox and inbox'], 'exactly one process applied it');
      expect(await migrate({ connectionString: url, schema })).to.deep.equal([]);
      const { rows } = await admin.query(`SELECT component, version FROM "${schema}".omnibus_migrations`);
      expect(rows).to.deep.equal([{ component: 'outbox-inbox', version: 1 }]);
    });
  });

  describe('unit of work, inbox and outbox', function () {
    it('commits business rows and outbox rows together, or neither, keeping the envelope intact', async function () {
      const persistence = await open();
      await admin.query(`CREATE TABLE "${schema}".orders (id text PRIMARY KEY)`);
      await persistence.unitOfWork.transaction(async (tx) => {
        await tx.query(`INSERT INTO "${schema}".orders VALUES ('o1')`);
        await persistence.outbox.add(tx, [message('m1', 'K')]);
      });
      const failure = new Error('rolled back');
      const thrown = await persistence.unitOfWork
        .transaction(async (tx) => {
          await tx.query(`INSERT INTO "${schema}".orders VALUES ('o2')`);
          await persistence.outbox.add(tx, [message('m2')]);
          throw failure;
        })
        .catch((e: unknown) => e);
      expect(thrown).to.equal(failure);
      const orders = await admin.query(`SELECT id FROM "${schema}".orders`);
      expect(orders.rows.map((r: { id: string }) => r.id)).to.deep.equal(['o1']);
      const [record, ...rest] = await persistence.outbox.claim('r', 10, 60_000);
      expect(rest).to.have.length(0);
      expect(record!.destination).to.deep.equal({ kind: 'queue', queue: 'rows' });
      expect(record!.envelope).to.deep.include({ id: 'm1', type: 't.Row', key: 'K' });
      expect(record!.envelope.headers).to.deep.equal({
        datacontenttype: 'application/json',
        'x-custom': 'yes',
      });
      expect([...record!.envelope.body]).to.deep.equal([0, 1, 255]);
      expect(record!.attempts).to.equal(1);
    });

    it('fails a transaction that a failed statement aborted instead of committing nothing silently', async function () {
      const persistence = await open();
      const error = await persistence.unitOfWork
        .transaction(async (tx) => {
          await persistence.outbox.add(tx, [message('lost')]);
          await tx.query('SELECT 1/0').catch(() => undefined); // the handler swallows the error
        })
        .catch((e: unknown) => e);
      expect(error).to.include({ code: 'TRANSACTION_ABORTED', retriable: true });
      expect(await persistence.outbox.backlog()).to.deep.include({ pending: 0 });
    });

    it('records an inbox id once per group; a concurrent record waits for the first transaction', async function () {
      const { inbox, unitOfWork } = await open();
      const record = (group: string, id: string) =>
        unitOfWork.transaction((tx) => inbox.record(tx, group, id));
      expect(await record('g', 'm1')).to.equal(true);
      expect(await record('g', 'm1')).to.equal(false);
      expect(await record('h', 'm1')).to.equal(true);

      for (const firstCommits of [false, true]) {
        const id = `race-${String(firstCommits)}`;
        let finish!: () => void;
        let recorded = false;
        const first = unitOfWork.transaction(async (tx) => {
          await inbox.record(tx, 'g', id);
          recorded = true;
          await new Promise<void>((resolve) => (finish = resolve));
          if (!firstCommits) throw new Error('handler failed');
        });
        await waitFor(() => recorded);
        const second = record('g', id);
        await waitFor(
          async () => {
            const { rowCount } = await admin.query(
              "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
              [`INSERT INTO "${schema}".omnibus_inbox%`],
            );
            return rowCount === 1;
          },
          { message: 'the second insert to wait for the first transaction' },
        );
        finish();
        await first.catch(() => undefined);
        expect(await second).to.equal(!firstCommits);
      }
    });

    it('purges inbox records by age', async function () {
      const { inbox, unitOfWork } = await open();
      await unitOfWork.transaction((tx) => inbox.record(tx, 'g', 'old'));
      expect(await inbox.purge(new Date(Date.now() - 60_000))).to.equal(0);
      expect(await inbox.purge(new Date(Date.now() + 60_000))).to.equal(1);
      expect(await unitOfWork.transaction((tx) => inbox.record(tx, 'g', 'old'))).to.equal(true);
    });

    it('claims per-key prefixes, skips leased keys, re-offers expired leases, sets failed rows aside', async function () {
      const { outbox, unitOfWork } = await open();
      await unitOfWork.transaction((tx) =>
        outbox.add(tx, [message('a1', 'A'), message('b1', 'B'), message('a2', 'A'), message('n1')]),
      );
      await unitOfWork.transaction((tx) => outbox.add(tx, [message('a3', 'A'), message('c1', 'C')]));
      const first = await outbox.claim('r1', 2, 60_000);
      expect(first.map((r) => r.envelope.id)).to.deep.equal(['a1', 'b1']);
      expect((await outbox.claim('r2', 10, 60_000)).map((r) => r.envelope.id)).to.deep.equal(['n1', 'c1']);
      await outbox.markPublished([first[0]!.id], false);
      await outbox.release('r2', [first[1]!.id]);
      const third = await outbox.claim('r3', 10, 60_000);
      expect(third.map((r) => r.envelope.id)).to.deep.equal(['a2', 'a3'], "b1 is still r1's");
      await outbox.release('r1', [first[1]!.id]);
      expect((await outbox.claim('r4', 10, 50)).map((r) => r.envelope.id)).to.deep.equal(['b1']);
      let again: string[] = [];
      await waitFor(async () => {
        again = (await outbox.claim('r5', 10, 60_000)).map((r) => r.envelope.id);
        return again.length > 0;
      });
      expect(again).to.deep.equal(['b1'], 'r4 died: its lease expired');

      await outbox.markFailed('r3', third[0]!.id, 'too large');
      await outbox.markPublished([third[1]!.id], true);
      expect(await outbox.backlog()).to.deep.include({ failed: 1, pending: 3 });
      expect(await outbox.purgePublished(new Date(Date.now() + 60_000))).to.equal(1);
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

    function bus(persistence: PostgresPersistence, handlers: (new () => object)[] = [], attempts = 3): Bus {
      const created = new Bus({
        transport,
        outboxRelay: false, // the test runs its own relays
        serviceName: 'test',
        persistence,
        handlers,
        closeTransport: false,
        retry: { attempts, backoff: constant(attempts > 3 ? 20 : 0) },
      });
      cleanup.push(() => created.stop());
      return created;
    }

    it('commits a handler row and its outbox row together; a throwing handler leaves neither', async function () {
      const persistence = await open();
      await admin.query(`CREATE TABLE "${schema}".seen (seq integer PRIMARY KEY)`);
      const Done = defineEvent<RowV1>({ type: 't.Done', channel: uniqueName('done') });
      const row = Row;
      const table = `"${schema}".seen`;
      @Subscriber({ group: 'writer' })
      class Writer {
        @Handle(row)
        async handle(event: RowV1, ctx: MessageContext) {
          await (ctx.tx as PoolClient).query(`INSERT INTO ${table} VALUES ($1)`, [event.seq]);
          await ctx.publish(Done, event);
          if (event.seq < 0) throw new Error('poison');
        }
      }
      const running = bus(persistence, [Writer]);
      await running.start();
      await running.publish(Row, { key: 'k', seq: 1 });
      await running.publish(Row, { key: 'k', seq: -1 });
      await waitFor(() => running.stats.handled === 1 && running.stats.deadLettered === 1);
      const seen = await admin.query(`SELECT seq FROM ${table}`);
      expect(seen.rows).to.deep.equal([{ seq: 1 }]);
      const records = await persistence.outbox.claim('check', 10, 1_000);
      expect(records.map((r) => r.destination)).to.deep.equal([{ kind: 'channel', channel: Done.channel }]);
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

    it('wakes a relay by LISTEN/NOTIFY, and again after its listening connection is killed', async function () {
      const persistence = await open();
      const writer = bus(persistence);
      await writer.start();
      const received = await collectChannel(transport, Row.channel, 'reader', 8);
      const relay = new OutboxRelay({ store: persistence.outbox, transport, pollIntervalMs: 600_000 });
      await relay.start();
      cleanup.push(() => relay.stop());
      await writer.transaction(({ publish }) => publish(Row, { key: 'k', seq: 1 }));
      await waitFor(() => received.length === 1, { timeoutMs: 5_000, message: 'a notification, not a poll' });

      const listening = `LISTEN "${persistence.schema.channel}"`;
      const killed = await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1',
        [listening],
      );
      expect(killed.rowCount).to.equal(1);
      await waitFor(async () => {
        const { rowCount } = await admin.query('SELECT 1 FROM pg_stat_activity WHERE query = $1', [
          listening,
        ]);
        return rowCount === 1;
      });
      await writer.transaction(({ publish }) => publish(Row, { key: 'k', seq: 2 }));
      await waitFor(() => received.length === 2, { timeoutMs: 5_000, message: 'the listener reconnected' });
    });

    it('two relays (two processes) publish 10,000 rows: none lost, per-key order kept', async function () {
      this.timeout(120_000);
      const persistence = await open();
      const writer = bus(persistence);
      await writer.start();
      const received = await collectChannel(transport, Row.channel, 'reader', 64);
      const child = spawn('relay-process', [url, schema, '30000', '100']);
      const fromChild = bridge(child, transport);
      await ready(child);
      const local = new OutboxRelay({ store: persistence.outbox, transport });
      await local.start();
      cleanup.push(() => local.stop());
      const total = 10_000;
      for (let start = 0; start < total; start += 500) {
        await writer.transaction(async ({ publish }) => {
          for (let seq = start; seq < start + 500; seq++) await publish(Row, { key: `k${seq % 200}`, seq });
        });
      }
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
      const child = spawn('relay-process', [url, schema, '500', '100']);
      let stalled = false;
      bridge(child, transport, { stallAfter: 250, onStall: () => (stalled = true) });
      await waitFor(() => stalled, { message: 'the child relay to be mid-batch' });
      child.kill('SIGKILL');
      await once(child, 'exit');

      const recovery = new OutboxRelay({ store: persistence.outbox, transport, pollIntervalMs: 50 });
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

    it('pauses consumption and relaying during a database outage (no ack without commit), then resumes', async function () {
      this.timeout(60_000);
      const role = schema;
      await admin.query(`CREATE ROLE "${role}" LOGIN SUPERUSER`);
      cleanup.push(async () => {
        await admin.query(`ALTER ROLE "${role}" LOGIN`);
        await admin.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()',
          [role],
        );
        await waitFor(
          async () =>
            (await admin.query('SELECT 1 FROM pg_stat_activity WHERE usename = $1', [role])).rowCount === 0,
        );
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.query(`DROP ROLE "${role}"`);
      });
      const persistence = await open({ connectionString: url.replace('//postgres@', `//${role}@`) });
      await admin.query(`CREATE TABLE "${schema}".effects (seq integer PRIMARY KEY)`);
      const table = `"${schema}".effects`;
      const Echo = defineEvent<RowV1>({ type: 't.Echo', channel: uniqueName('echo'), key: (r) => r.key });
      const row = Row;
      @Subscriber({ group: 'effects' })
      class Effects {
        @Handle(row)
        async handle(event: RowV1, ctx: MessageContext) {
          await (ctx.tx as PoolClient).query(`INSERT INTO ${table} VALUES ($1)`, [event.seq]);
          await ctx.publish(Echo, event);
        }
      }
      const running = bus(persistence, [Effects], 1_000);
      await running.start();
      const echoed = await collectChannel(transport, Echo.channel, 'echo', 8);
      const relay = new OutboxRelay({
        store: persistence.outbox,
        transport,
        pollIntervalMs: 50,
        backoff: constant(50),
      });
      await relay.start();
      cleanup.push(() => relay.stop());

      await admin.query(`ALTER ROLE "${role}" NOLOGIN`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
      for (let seq = 0; seq < 20; seq++) await running.publish(Row, { key: `k${seq % 3}`, seq });
      await waitFor(() => running.stats.retried >= 20 && relay.metrics.storeErrors >= 2);
      expect(running.stats).to.deep.include({ handled: 0, deadLettered: 0 });

      await admin.query(`ALTER ROLE "${role}" LOGIN`);
      await waitFor(() => running.stats.handled === 20, { timeoutMs: 30_000 });
      await waitFor(() => echoed.length === 20, { timeoutMs: 30_000 });
      const effects = await admin.query(`SELECT count(*)::int AS n FROM ${table}`);
      expect(effects.rows[0]).to.deep.equal({ n: 20 });
      expect(running.stats.deadLettered).to.equal(0);
      expect(new Set(echoed.map((e) => e.id)).size).to.equal(20);
    });
  });
});
