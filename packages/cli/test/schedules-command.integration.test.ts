import { expect } from 'chai';
import { describeIntegration, uniqueName } from '@omnibus/core/testing';
import { PostgresPersistence } from '@omnibus/postgres';
import { omnibus, threeSchedules } from './schedules-fixture.js';

const url = process.env.OMNIBUS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/omnibus';

async function probe(): Promise<void> {
  const persistence = new PostgresPersistence({ connectionString: url });
  try {
    await persistence.pool.query('SELECT 1');
  } finally {
    await persistence.close();
  }
}

describeIntegration('omnibus schedules (PostgreSQL, the built binary)', probe, function () {
  this.timeout(30_000);
  let schema: string;
  let persistence: PostgresPersistence;
  beforeEach(async () => {
    schema = uniqueName('cli').replace(/-/g, '_');
    persistence = new PostgresPersistence({ connectionString: url, schema });
    await persistence.start();
    await persistence.schedules.add(undefined, threeSchedules());
  });
  afterEach(async () => {
    await persistence.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await persistence.close();
  });

  it('lists, shows, cancels and reschedules, with $OMNIBUS_POSTGRES_URL and --schema', async () => {
    const env = { OMNIBUS_POSTGRES_URL: url };
    const db = ['--schema', schema];
    const listed = await omnibus(['schedules', 'list', ...db], env);
    expect(listed.code, listed.stderr).to.equal(0);
    expect(listed.stdout.split('\n').map((line) => line.split('  ')[0])).to.deep.equal([
      's-first',
      's-late',
      's-binary',
    ]);
    const shown = await omnibus(['schedules', 'show', '--postgres', url, ...db, '--id', 's-late']);
    expect(JSON.parse(shown.stdout)).to.deep.include({ id: 's-late', body: '{"n":2}', key: 'o-2' });
    expect((await omnibus(['schedules', 'cancel', ...db, '--id', 's-first'], env)).code).to.equal(0);
    expect((await omnibus(['schedules', 'cancel', ...db, '--id', 's-first'], env)).code).to.equal(1);
    const at = '2030-01-02T03:04:05.000Z';
    expect(
      (await omnibus(['schedules', 'reschedule', ...db, '--id', 's-late', '--at', at], env)).code,
    ).to.equal(0);
    expect((await persistence.schedules.get('s-late'))?.deliverAt.toISOString()).to.equal(at);
    expect(await persistence.schedules.pending()).to.equal(2);
    const elsewhere = await omnibus(['schedules', 'list', '--schema', `${schema}_none`], env);
    expect(elsewhere.code).to.equal(2);
    expect(elsewhere.stderr).to.contain('omnibus migrate');
  });
});
