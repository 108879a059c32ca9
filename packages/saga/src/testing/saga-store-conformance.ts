import { expect } from 'chai';
import type { SagaRecord, SagaStore, UnitOfWork } from '@omnibus/core';
import { ConcurrencyError, isOmnibusError } from '@omnibus/core';
import { uniqueName } from '@omnibus/core/testing';

/** One store under test over fresh tables, and the unit of work whose transactions it writes in. */
export interface SagaStoreUnderTest<Tx> {
  readonly store: SagaStore<Tx>;
  readonly unitOfWork: UnitOfWork<Tx>;
  /** Closes the store's database and drops what the test left; run after each test. */
  close(): Promise<void>;
}

/**
 * The rules of `SagaStore` (see its doc comment), checked against a real store: every implementation
 * (memory, SQLite, PostgreSQL) passes this one suite.
 */
export function runSagaStoreConformance<Tx>(
  name: string,
  createStore: () => Promise<SagaStoreUnderTest<Tx>>,
): void {
  describe(`${name}: saga store conformance`, function () {
    let under: SagaStoreUnderTest<Tx>;
    let saga: string;
    beforeEach(async function () {
      under = await createStore();
      saga = uniqueName('saga');
    });
    afterEach(async function () {
      await under.close();
    });

    const at = (ms: number): Date => new Date(Date.UTC(2026, 0, 1) + ms);
    function record(key: string, version: number, overrides: Partial<SagaRecord> = {}): SagaRecord {
      return {
        saga,
        key,
        version,
        status: 'running',
        data: JSON.stringify({ v: version }),
        createdAt: at(0),
        updatedAt: at(version),
        ...overrides,
      };
    }
    const save = (r: SagaRecord, expected: number): Promise<void> =>
      under.unitOfWork.transaction((tx) => under.store.save(tx, r, expected));

    it('counts committed instances per status, of one saga only', async function () {
      await save(record('r1', 1), 0);
      await save(record('r2', 1), 0);
      await save(record('c1', 1, { status: 'completed', completedAt: at(1) }), 0);
      await save({ ...record('other', 1), saga: `${saga}-other` }, 0);
      expect(await under.store.count?.(saga)).to.deep.equal({ running: 2, completed: 1 });
    });

    it('inserts at version 0, visible to others only after commit; load in the transaction sees its own write', async function () {
      let seenInside: SagaRecord | undefined;
      let seenOutside: SagaRecord | undefined = record('x', 99);
      await under.unitOfWork.transaction(async (tx) => {
        expect(await under.store.load(tx, saga, 'k1')).to.equal(undefined);
        await under.store.save(tx, record('k1', 1), 0);
        seenInside = await under.store.load(tx, saga, 'k1');
        seenOutside = await getOutsideOrUndefined(under, saga, 'k1');
      });
      expect(seenInside?.version).to.equal(1);
      expect(seenOutside).to.equal(undefined);
      const stored = await under.store.get(saga, 'k1');
      expect(stored).to.deep.include({ saga, key: 'k1', version: 1, status: 'running', data: '{"v":1}' });
      expect(stored?.createdAt.getTime()).to.equal(at(0).getTime());
      expect(stored?.updatedAt.getTime()).to.equal(at(1).getTime());
      expect(stored?.completedAt).to.equal(undefined);
    });

    it('updates only the row still at the expected version; a stale save is a ConcurrencyError', async function () {
      await save(record('k1', 1), 0);
      await save(record('k1', 2), 1);
      const stale = await failure(save(record('k1', 2), 1));
      expect(stale).to.be.instanceOf(ConcurrencyError);
      const duplicateInsert = await failure(save(record('k1', 1), 0));
      expect(duplicateInsert).to.be.instanceOf(ConcurrencyError);
      expect((await under.store.get(saga, 'k1'))?.version).to.equal(2);
    });

    it('two transactions saving the same version: exactly one commits, the other fails with a ConcurrencyError', async function () {
      const inserts = await Promise.allSettled([
        save(record('k1', 1, { data: '"a"' }), 0),
        save(record('k1', 1, { data: '"b"' }), 0),
      ]);
      expectOneWinner(inserts);
      const updates = await Promise.allSettled([
        save(record('k1', 2, { data: '"c"' }), 1),
        save(record('k1', 2, { data: '"d"' }), 1),
      ]);
      expectOneWinner(updates);
      const stored = await under.store.get(saga, 'k1');
      expect(stored?.version).to.equal(2);
      expect(['"c"', '"d"']).to.include(stored?.data);
    });

    it('a rolled-back save leaves nothing', async function () {
      const failed = await failure(
        under.unitOfWork.transaction(async (tx) => {
          await under.store.save(tx, record('k1', 1), 0);
          throw new Error('step failed');
        }),
      );
      expect(failed.message).to.equal('step failed');
      expect(await under.store.get(saga, 'k1')).to.equal(undefined);
      await save(record('k1', 1), 0);
      expect((await under.store.get(saga, 'k1'))?.version).to.equal(1);
    });

    it('100 concurrent read-modify-write steps of one instance lose no update', async function () {
      await save(record('counter', 1, { data: '0' }), 0);
      const increment = async (): Promise<void> => {
        for (;;) {
          try {
            await under.unitOfWork.transaction(async (tx) => {
              const current = (await under.store.load(tx, saga, 'counter'))!;
              const next = {
                ...current,
                version: current.version + 1,
                data: String(Number(current.data) + 1),
              };
              await under.store.save(tx, next, current.version);
            });
            return;
          } catch (error) {
            if (!(error instanceof ConcurrencyError)) throw error;
          }
        }
      };
      await Promise.all(Array.from({ length: 100 }, increment));
      const stored = await under.store.get(saga, 'counter');
      expect(stored?.data).to.equal('100');
      expect(stored?.version).to.equal(101);
    });

    it('keeps sagas apart: one key in two sagas is two instances', async function () {
      const other = uniqueName('saga');
      await save(record('k1', 1), 0);
      await save({ ...record('k1', 1), saga: other, data: '"other"' }, 0);
      expect((await under.store.get(saga, 'k1'))?.data).to.equal('{"v":1}');
      expect((await under.store.get(other, 'k1'))?.data).to.equal('"other"');
    });

    it('lists by status, newest update first, up to the limit', async function () {
      await save(record('a', 1, { updatedAt: at(10) }), 0);
      await save(record('b', 1, { updatedAt: at(30) }), 0);
      await save(record('c', 1, { updatedAt: at(20), status: 'completed', completedAt: at(20) }), 0);
      expect((await under.store.list(saga)).map((r) => r.key)).to.deep.equal(['b', 'c', 'a']);
      expect((await under.store.list(saga, { status: 'running' })).map((r) => r.key)).to.deep.equal([
        'b',
        'a',
      ]);
      const completed = await under.store.list(saga, { status: 'completed' });
      expect(completed.map((r) => r.key)).to.deep.equal(['c']);
      expect(completed[0]?.completedAt?.getTime()).to.equal(at(20).getTime());
      expect((await under.store.list(saga, { limit: 1 })).map((r) => r.key)).to.deep.equal(['b']);
    });

    it('purges completed instances older than the cutoff, and nothing running', async function () {
      await save(record('old', 1, { status: 'completed', completedAt: at(1_000) }), 0);
      await save(record('recent', 1, { status: 'completed', completedAt: at(5_000) }), 0);
      await save(record('running', 1, { updatedAt: at(0) }), 0);
      expect(await under.store.purgeCompleted(at(2_000))).to.equal(1);
      expect(await under.store.get(saga, 'old')).to.equal(undefined);
      expect(await under.store.get(saga, 'recent')).to.not.equal(undefined);
      expect(await under.store.get(saga, 'running')).to.not.equal(undefined);
    });
  });
}

/**
 * `get` from inside a transaction's async path: a store whose one connection is held by the transaction
 * (SQLite) refuses with a typed error instead of deadlocking or reading uncommitted rows; both are fine.
 */
async function getOutsideOrUndefined<Tx>(
  under: SagaStoreUnderTest<Tx>,
  saga: string,
  key: string,
): Promise<SagaRecord | undefined> {
  try {
    return await under.store.get(saga, key);
  } catch (error) {
    if (isOmnibusError(error)) return undefined;
    throw error;
  }
}

function expectOneWinner(results: PromiseSettledResult<void>[]): void {
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
  expect(rejected).to.have.length(1);
  expect(rejected[0]!.reason).to.be.instanceOf(ConcurrencyError);
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure, but it succeeded');
}
