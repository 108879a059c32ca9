import 'reflect-metadata';
import { expect } from 'chai';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ConfigurationError } from '@omnibus/core';
import type { PersistenceUnderTest, PersistenceWithOutage } from '@omnibus/core/testing';
import { runPersistenceConformance, runScheduleConformance, waitFor } from '@omnibus/core/testing';
import { SqlitePersistence, migrate } from '../src/index.js';

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

  describe('schema', function () {
    it('migrates once, from several processes at once, and says what it applied', async function () {
      const results = await Promise.all([migrate({ path }), migrate({ path }), migrate({ path })]);
      expect(results.flat()).to.deep.equal(['outbox and inbox', 'scheduled messages']);
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
      expect(applied.flat()).to.deep.equal(
        ['outbox and inbox', 'scheduled messages'],
        'exactly one process applied them',
      );
      const database = new DatabaseSync(join(directory, 'other.db'));
      expect(database.prepare('SELECT count(*) AS n FROM omnibus_migrations').get()!.n).to.equal(2);
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
      expect(() => new SqlitePersistence({ path, synchronous: 'off' as 'full' }))
        .to.throw(ConfigurationError)
        .with.property('field', 'synchronous');
    });

    it("fsyncs every commit unless told synchronous: 'normal'", async function () {
      // SQLite's numbers: 2 = FULL, 1 = NORMAL.
      for (const [synchronous, expected] of [
        [undefined, 2],
        ['full', 2],
        ['normal', 1],
      ] as const) {
        const persistence = new SqlitePersistence({
          path: join(directory, `${String(synchronous)}.db`),
          ...(synchronous === undefined ? {} : { synchronous }),
        });
        cleanup.push(() => persistence.close());
        expect(
          persistence.database.prepare('PRAGMA synchronous').get()!.synchronous,
          String(synchronous),
        ).to.equal(expected);
      }
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

  describe('unit of work and inbox', function () {
    it('refuses a nested unit of work instead of deadlocking', async function () {
      const persistence = await open();
      const error = await persistence.unitOfWork
        .transaction(() => persistence.unitOfWork.transaction(async () => undefined))
        .catch((e: unknown) => e);
      expect(error).to.have.property('code', 'NESTED_TRANSACTION');
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
  });
});

const relayProcess = fileURLToPath(new URL('./fixtures/relay-process.js', import.meta.url));

/** A new file in a new directory, opened and started; the hooks the conformance suite needs on it. */
async function openStore(
  options: { busyTimeoutMs?: number } = {},
): Promise<PersistenceUnderTest<DatabaseSync> & { readonly path: string }> {
  const directory = mkdtempSync(join(tmpdir(), 'omnibus-sqlite-'));
  const path = join(directory, 'app.db');
  const persistence = new SqlitePersistence({ path, ...options });
  await persistence.start();
  const { database } = persistence;
  return {
    path,
    persistence,
    async createTable(table) {
      database.exec(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY)`);
    },
    async insert(tx, table, key) {
      tx.prepare(`INSERT INTO ${table} VALUES (?)`).run(key);
    },
    async keys(table) {
      return database
        .prepare(`SELECT id FROM ${table} ORDER BY id`)
        .all()
        .map((row) => Number(row.id));
    },
    relayProcess: { module: relayProcess, args: [path] },
    async close() {
      await persistence.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/**
 * The outage: another connection holds the write lock; with a 10 ms busy timeout every unit of work and
 * claim fails at once as busy.
 */
async function openStoreWithOutage(): Promise<PersistenceWithOutage<DatabaseSync>> {
  const store = await openStore({ busyTimeoutMs: 10 });
  let outage: DatabaseSync | undefined;
  return {
    ...store,
    async beginOutage() {
      outage = new DatabaseSync(store.path);
      outage.exec('BEGIN EXCLUSIVE');
    },
    async endOutage() {
      outage?.exec('COMMIT');
      outage?.close();
      outage = undefined;
    },
  };
}

runPersistenceConformance<DatabaseSync>('sqlite', {
  createPersistence: () => openStore(),
  createPersistenceWithOutage: openStoreWithOutage,
});

runScheduleConformance<DatabaseSync>('sqlite', {
  createPersistence: () => openStore(),
  createPersistenceWithOutage: openStoreWithOutage,
});
