import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { SqlitePersistence } from '@omnibus/sqlite';
import { cli } from './run-cli.js';
import { threeSchedules } from './schedules-fixture.js';

describe('omnibus schedules and sagas read the database of the tool configuration', function () {
  this.timeout(30_000);
  let dir: string;
  let path: string;
  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'omnibus-cli-config-db-'));
    path = join(dir, 'app.db');
    const persistence = new SqlitePersistence({ path });
    await persistence.start();
    await persistence.schedules.add(undefined, threeSchedules());
    await persistence.close();
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('from the services’ variable OMNIBUS_SQLITE_PATH', async function () {
    const result = await cli(['schedules', 'list'], { env: { OMNIBUS_SQLITE_PATH: path } });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout.split('\n').map((line) => line.split('  ')[0])).to.deep.equal([
      's-first',
      's-late',
      's-binary',
    ]);
  });

  it('from omnibus.config.json named by $OMNIBUS_CONFIG, the command line still winning', async function () {
    const config = join(dir, 'omnibus.config.json');
    writeFileSync(config, JSON.stringify({ database: { sqlite: path } }));
    const result = await cli(['schedules', 'show', '--id', 's-late'], { env: { OMNIBUS_CONFIG: config } });
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout)).to.deep.include({ id: 's-late', type: 'orders.Reminder' });
    const elsewhere = await cli(['schedules', 'list', '--sqlite', join(dir, 'missing.db')], {
      env: { OMNIBUS_CONFIG: config },
    });
    expect(elsewhere.code).to.equal(2);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ database: { sqlite: path, postgres: 'postgres://x/y' } }));
    const refused = await cli(['schedules', 'list'], { env: { OMNIBUS_CONFIG: bad } });
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain(`${bad}: database`).and.contain('INVALID_CONFIGURATION');
  });
});
