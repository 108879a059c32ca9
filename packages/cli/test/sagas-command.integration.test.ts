import { expect } from 'chai';
import { describeIntegration, uniqueName } from '@omnibus/core/testing';
import { PostgresPersistence, PostgresSagaStore } from '@omnibus/postgres';
import { omnibusProcess, seedSagas } from './sagas-fixture.js';

const url = process.env.OMNIBUS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/omnibus';

async function probe(): Promise<void> {
  const persistence = new PostgresPersistence({ connectionString: url });
  try {
    await persistence.pool.query('SELECT 1');
  } finally {
    await persistence.close();
  }
}

describeIntegration('omnibus sagas (real PostgreSQL, the built binary)', probe, function () {
  this.timeout(30_000);
  const schema = uniqueName('omnibus_cli_sagas').replace(/-/g, '_');

  before(async () => {
    const persistence = new PostgresPersistence({ connectionString: url, schema });
    await persistence.start();
    const store = new PostgresSagaStore(persistence);
    await store.start();
    await seedSagas(store, persistence.unitOfWork);
    await persistence.close();
  });
  after(async () => {
    const admin = new PostgresPersistence({ connectionString: url });
    await admin.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.close();
  });

  it('lists and shows instances from $OMNIBUS_POSTGRES_URL and --schema', async () => {
    const env = { OMNIBUS_POSTGRES_URL: url };
    const listed = await omnibusProcess(['sagas', 'list', '--schema', schema, '--saga', 'orders'], env);
    expect(listed.code, listed.stderr).to.equal(0);
    expect(listed.stdout.split('\n').map((line) => line.split('  ')[0])).to.deep.equal([
      'o-3',
      'o-2',
      'o-1',
      'broken',
    ]);
    const shown = await omnibusProcess(
      ['sagas', 'show', '--postgres', url, '--schema', schema, '--saga', 'orders', '--key', 'o-1'],
      {},
    );
    expect(shown.code, shown.stderr).to.equal(0);
    expect(JSON.parse(shown.stdout)).to.deep.include({ key: 'o-1', version: 2 });
    expect((JSON.parse(shown.stdout) as { state: object }).state).to.include({ status: 'paying' });
  });

  it('a schema without the saga table is a usage error', async () => {
    const other = await omnibusProcess([
      'sagas',
      'list',
      '--postgres',
      url,
      '--schema',
      `${schema}_none`,
      '--saga',
      'orders',
    ]);
    expect(other.code).to.equal(2);
    expect(other.stderr).to.contain('no saga table');
  });
});
