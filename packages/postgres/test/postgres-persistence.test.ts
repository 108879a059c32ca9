import { expect } from 'chai';
import { ConfigurationError } from '@omnibus/core';
import pg from 'pg';
import { PostgresPersistence, migrate } from '../src/index.js';

describe('PostgresPersistence options', function () {
  it('validates its options, naming the field', async function () {
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'connectionString'],
      [{ connectionString: '' }, 'connectionString'],
      [{ connectionString: 'postgres://x', pool: new pg.Pool() }, 'connectionString'],
      [{ pool: {} }, 'pool'],
      [{ connectionString: 'postgres://x', schema: 'Bad-Name' }, 'schema'],
      [{ connectionString: 'postgres://x', schema: 'x'.repeat(41) }, 'schema'],
      [{ connectionString: 'postgres://x', inboxRetentionMs: 0 }, 'inboxRetentionMs'],
      [{ connectionString: 'postgres://x', pipeline: 'yes' }, 'pipeline'],
      [{ pool: new pg.Pool(), pipeline: true }, 'pipeline'],
    ];
    for (const [options, field] of cases) {
      expect(() => new PostgresPersistence(options), field)
        .to.throw(ConfigurationError)
        .with.property('field', field);
    }
    const error = await migrate({ schema: 'ok' }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(ConfigurationError).with.property('field', 'connectionString');
  });

  it('pipelines the pool it creates unless told not to', async function () {
    for (const [pipeline, expected] of [
      [undefined, true],
      [false, false],
    ] as const) {
      const persistence = new PostgresPersistence({
        connectionString: 'postgres://x',
        ...(pipeline === undefined ? {} : { pipeline }),
      });
      expect((persistence.pool.options as pg.PoolConfig).pipeline, String(pipeline)).to.equal(expected);
      await persistence.close();
    }
  });

  it('reports an unreachable database as PERSISTENCE_UNAVAILABLE, retriable', async function () {
    const persistence = new PostgresPersistence({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
    const error = await persistence.start().catch((e: unknown) => e);
    expect(error).to.include({ code: 'PERSISTENCE_UNAVAILABLE', retriable: true });
    const inTransaction = await persistence.unitOfWork.transaction(async () => 1).catch((e: unknown) => e);
    expect(inTransaction).to.include({ code: 'PERSISTENCE_UNAVAILABLE', retriable: true });
    await persistence.close();
  });
});
