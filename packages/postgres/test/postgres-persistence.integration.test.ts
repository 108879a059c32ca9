import 'reflect-metadata';
import { expect } from 'chai';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { OutboxMessage } from '@omnibus/core';
import { Bus, MemoryTransport, OutboxRelay, defineEvent } from '@omnibus/core';
import type { PersistenceUnderTest, PersistenceWithOutage } from '@omnibus/core/testing';
import {
  collectChannel,
  describeIntegration,
  runPersistenceConformance,
  runScheduleConformance,
  uniqueName,
  waitFor,
} from '@omnibus/core/testing';
import pg from 'pg';
import type { PoolClient } from 'pg';
import { PostgresPersistence, migrate } from '../src/index.js';

const url = process.env.OMNIBUS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/omnibus';
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url));

function message(id: string): OutboxMessage {
  return {
    destination: { kind: 'queue', queue: 'rows' },
    envelope: { id, type: 't.Row', headers: {}, body: new Uint8Array([1]) },
  };
}

/** A schema name per test: tests never see each other's rows. */
function schemaName(): string {
  return uniqueName('omnibus').replace(/-/g, '_');
}

async function inboxAndBusiness(persistence: PostgresPersistence, tx: PoolClient, id: string): Promise<void> {
  expect(await persistence.inbox.record(tx, 'g', id)).to.equal(true);
  await tx.query(`INSERT INTO ${persistence.schema.quoted}.business (id) VALUES ($1)`, [id]);
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

  async function open() {
    const persistence = new PostgresPersistence({ connectionString: url, schema });
    cleanup.push(() => persistence.close());
    await persistence.start();
    return persistence;
  }

  describe('schema', function () {
    it('migrates once from several processes at once (advisory lock) and says what it applied', async function () {
      const children = [1, 2, 3].map(() => {
        const child = fork(fixture('migrate-process'), [url, schema], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        cleanup.push(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        });
        return child;
      });
      const applied = await Promise.all(
        children.map(async (child) => ((await once(child, 'message')) as [string[]])[0]),
      );
      expect(applied.flat()).to.deep.equal(
        ['outbox and inbox', 'scheduled messages'],
        'exactly one process applied them',
      );
      expect(await migrate({ connectionString: url, schema })).to.deep.equal([]);
      const { rows } = await admin.query(
        `SELECT component, version FROM "${schema}".omnibus_migrations ORDER BY component`,
      );
      expect(rows).to.deep.equal([
        { component: 'outbox-inbox', version: 1 },
        { component: 'schedules', version: 1 },
      ]);
    });
  });

  describe('unit of work and inbox', function () {
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

    it('pipelined or not: a failed outbox insert (sent with COMMIT) rolls the whole transaction back and rejects with its error', async function () {
      for (const pipeline of [true, false]) {
        const persistence = new PostgresPersistence({ connectionString: url, schema, pipeline });
        cleanup.push(() => persistence.close());
        await persistence.start();
        await persistence.unitOfWork.transaction((tx) =>
          tx.query(`CREATE TABLE IF NOT EXISTS "${schema}".business (id text PRIMARY KEY)`),
        );
        const broken: OutboxMessage = {
          destination: { kind: 'queue', queue: 'rows' },
          envelope: {
            id: `broken-${String(pipeline)}`,
            type: null as unknown as string,
            headers: {},
            body: new Uint8Array([1]),
          },
        };
        let added = false;
        const error = await persistence.unitOfWork
          .transaction(async (tx) => {
            await inboxAndBusiness(persistence, tx, `m-${String(pipeline)}`);
            await persistence.outbox.add(tx, [broken]);
            added = true;
          })
          .catch((e: unknown) => e);
        // Pipelined, add returns at once and the insert's failure comes with COMMIT; else add rejects.
        expect(added, String(pipeline)).to.equal(pipeline);
        // 23502: not_null_violation (the type column): the insert's own error, not a bare "aborted".
        expect(error, String(pipeline)).to.be.instanceOf(pg.DatabaseError).with.property('code', '23502');
        expect(await persistence.outbox.backlog()).to.deep.include({ pending: 0 });
        const rows = await admin.query(
          `SELECT (SELECT count(*) FROM "${schema}".business)::int AS business,
                  (SELECT count(*) FROM "${schema}".omnibus_inbox)::int AS inbox`,
        );
        expect(rows.rows[0], String(pipeline)).to.deep.equal({ business: 0, inbox: 0 });
        // The connection is clean for the next unit of work.
        await persistence.unitOfWork.transaction((tx) =>
          inboxAndBusiness(persistence, tx, `ok-${String(pipeline)}`),
        );
        await admin.query(`DELETE FROM "${schema}".business; DELETE FROM "${schema}".omnibus_inbox`);
      }
    });

    it('makes a concurrent inbox record of the same id wait for the first transaction', async function () {
      const { inbox, unitOfWork } = await open();
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
        const second = unitOfWork.transaction((tx) => inbox.record(tx, 'g', id));
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
  });

  describe('outbox notifications', function () {
    it('wakes a relay by LISTEN/NOTIFY, and again after its listening connection is killed', async function () {
      const persistence = await open();
      const transport = new MemoryTransport();
      cleanup.push(() => transport.close());
      const Row = defineEvent<{ seq: number }>({ type: 't.Row', channel: uniqueName('rows') });
      const writer = new Bus({
        transport,
        outboxRelay: false, // the test runs its own relay
        serviceName: 'test',
        persistence,
        closeTransport: false,
      });
      cleanup.push(() => writer.stop());
      await writer.start();
      const received = await collectChannel(transport, Row.channel, 'reader', 8);
      const relay = new OutboxRelay({ store: persistence.outbox, transport, pollIntervalMs: 600_000 });
      await relay.start();
      cleanup.push(() => relay.stop());
      await writer.transaction(({ publish }) => publish(Row, { seq: 1 }));
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
      await writer.transaction(({ publish }) => publish(Row, { seq: 2 }));
      await waitFor(() => received.length === 2, { timeoutMs: 5_000, message: 'the listener reconnected' });
    });
  });

  /** A started persistence on a new schema, reached by `connectionString`, and the suite's hooks on it. */
  async function openStore(
    connectionString: string,
    schema: string,
  ): Promise<PersistenceUnderTest<PoolClient>> {
    const persistence = new PostgresPersistence({ connectionString, schema });
    const dropSchema = async () => {
      await persistence.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    };
    await persistence.start().catch(async (error: unknown) => {
      await dropSchema();
      throw error;
    });
    const table = (name: string) => `"${schema}".${name}`;
    return {
      persistence,
      async createTable(name) {
        await admin.query(`CREATE TABLE ${table(name)} (id integer PRIMARY KEY)`);
      },
      async insert(tx, name, key) {
        await tx.query(`INSERT INTO ${table(name)} VALUES ($1)`, [key]);
      },
      async keys(name) {
        const { rows } = await admin.query<{ id: number }>(`SELECT id FROM ${table(name)} ORDER BY id`);
        return rows.map((row) => row.id);
      },
      relayProcess: { module: fixture('relay-process'), args: [url, schema] },
      close: dropSchema,
    };
  }

  /**
   * The outage: the store logs in as a role of its own, whose login is refused and whose connections are
   * terminated (pg_terminate_backend), so the shared server keeps running for everyone else.
   */
  async function openStoreWithOutage(): Promise<PersistenceWithOutage<PoolClient>> {
    {
      const role = schemaName();
      await admin.query(`CREATE ROLE "${role}" LOGIN SUPERUSER`);
      const dropRole = async () => {
        await admin.query(`ALTER ROLE "${role}" LOGIN`);
        await admin.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()',
          [role],
        );
        await waitFor(
          async () =>
            (await admin.query('SELECT 1 FROM pg_stat_activity WHERE usename = $1', [role])).rowCount === 0,
          { message: `the sessions of ${role} to end` },
        );
        await admin.query(`DROP ROLE "${role}"`);
      };
      const store = await openStore(url.replace('//postgres@', `//${role}@`), role).catch(
        async (error: unknown) => {
          await dropRole();
          throw error;
        },
      );
      return {
        ...store,
        async beginOutage() {
          await admin.query(`ALTER ROLE "${role}" NOLOGIN`);
          await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [
            role,
          ]);
        },
        async endOutage() {
          await admin.query(`ALTER ROLE "${role}" LOGIN`);
        },
        async close() {
          await store.close();
          await dropRole();
        },
      };
    }
  }

  runPersistenceConformance<PoolClient>('postgres', {
    createPersistence: () => openStore(url, schemaName()),
    createPersistenceWithOutage: openStoreWithOutage,
  });

  runScheduleConformance<PoolClient>('postgres', {
    createPersistence: () => openStore(url, schemaName()),
    createPersistenceWithOutage: openStoreWithOutage,
  });
});
