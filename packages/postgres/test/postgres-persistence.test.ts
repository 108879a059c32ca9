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
    ];
    for (const [options, field] of cases) {
      expect(() => new PostgresPersistence(options), field)
        .to.throw(ConfigurationError)
        .with.property('field', field);
    }
    const error = await migrate({ schema: 'ok' }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(ConfigurationError).with.property('field', 'connectionString');
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
