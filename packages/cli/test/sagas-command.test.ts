import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlitePersistence, SqliteSagaStore } from '@omnibus/sqlite';
import { HISTORY, omnibusProcess, seedSagas } from './sagas-fixture.js';
import { withoutSqliteWarning } from './run-cli.js';

describe('omnibus sagas (SQLite, the built binary)', function () {
  this.timeout(30_000);
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'omnibus-cli-sagas-'));
    path = join(dir, 'app.db');
    const persistence = new SqlitePersistence({ path });
    await persistence.start();
    const store = new SqliteSagaStore(persistence);
    await store.start();
    await seedSagas(store, persistence.unitOfWork);
    await persistence.close();
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('lists instances newest update first, by status, up to a limit, with their pending timeouts', async () => {
    const all = await omnibusProcess(['sagas', 'list', '--sqlite', path, '--saga', 'orders']);
    expect(all.code, all.stderr).to.equal(0);
    const lines = all.stdout.split('\n');
    expect(lines.map((line) => line.split('  ')[0])).to.deep.equal(['o-3', 'o-2', 'o-1', 'broken']);
    expect(lines[2]).to.equal(
      'o-1  running  v2  2026-01-01T12:01:00.000Z  timeouts=payment@2026-01-01T12:30:00.000Z',
    );
    const completed = await omnibusProcess([
      'sagas',
      'list',
      '--sqlite',
      path,
      '--saga',
      'orders',
      '--status',
      'completed',
    ]);
    expect(completed.stdout).to.equal('o-2  completed  v3  2026-01-01T12:02:00.000Z');
    const one = await omnibusProcess(['sagas', 'list', '--sqlite', path, '--saga', 'orders', '--limit', '1']);
    expect(one.stdout.split('\n')).to.deep.equal(['o-3  running  v1  2026-01-01T12:03:00.000Z']);
    const none = await omnibusProcess(['sagas', 'list', '--sqlite', path, '--saga', 'other']);
    expect(none.code).to.equal(0);
    expect(none.stdout).to.equal('');
    expect(withoutSqliteWarning(none.stderr)).to.equal('no instances of other');
  });

  it('shows one instance in full; an unknown key or unreadable data fails', async () => {
    const shown = await omnibusProcess([
      'sagas',
      'show',
      '--sqlite',
      path,
      '--saga',
      'orders',
      '--key',
      'o-1',
    ]);
    expect(shown.code, shown.stderr).to.equal(0);
    expect(JSON.parse(shown.stdout)).to.deep.equal({
      saga: 'orders',
      key: 'o-1',
      status: 'running',
      version: 2,
      createdAt: '2026-01-01T12:00:00.000Z',
      updatedAt: '2026-01-01T12:01:00.000Z',
      state: { status: 'paying', since: '2026-01-01T12:01:00.000Z' },
      pendingTimeouts: [{ name: 'payment', dueAt: '2026-01-01T12:30:00.000Z' }],
      compensations: [{ type: 'inventory.ReleaseStock', payload: { orderId: 'o-1' } }],
      compensated: false,
      history: HISTORY,
    });
    const done = await omnibusProcess([
      'sagas',
      'show',
      '--sqlite',
      path,
      '--saga',
      'orders',
      '--key',
      'o-2',
    ]);
    expect(JSON.parse(done.stdout)).to.include({
      status: 'completed',
      completedAt: '2026-01-01T12:02:00.000Z',
    });
    expect(
      (JSON.parse(done.stdout) as { history: unknown }).history,
      'written before history: none',
    ).to.deep.equal([]);
    const missing = await omnibusProcess([
      'sagas',
      'show',
      '--sqlite',
      path,
      '--saga',
      'orders',
      '--key',
      'nope',
    ]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('no instance nope of orders');
    const broken = await omnibusProcess([
      'sagas',
      'show',
      '--sqlite',
      path,
      '--saga',
      'orders',
      '--key',
      'broken',
    ]);
    expect(broken.code).to.equal(1);
    expect(JSON.parse(broken.stdout)).to.include({ unreadable: true, data: '{"state": trunc' });
    expect(broken.stderr).to.contain('not a saga document');
  });

  it('refuses wrong usage with exit 2: no database, no saga, a bad status, a file without the table', async () => {
    const noDatabase = await omnibusProcess(['sagas', 'list', '--saga', 'orders'], {
      OMNIBUS_POSTGRES_URL: '',
    });
    expect(noDatabase.code).to.equal(2);
    const noSaga = await omnibusProcess(['sagas', 'list', '--sqlite', path]);
    expect(noSaga.code).to.equal(2);
    expect(noSaga.stderr).to.contain('--saga <name> is required');
    const badStatus = await omnibusProcess([
      'sagas',
      'list',
      '--sqlite',
      path,
      '--saga',
      'orders',
      '--status',
      'done',
    ]);
    expect(badStatus.code).to.equal(2);
    expect(badStatus.stderr).to.contain('--status must be running or completed');
    const bare = join(dir, 'bare.db');
    const persistence = new SqlitePersistence({ path: bare });
    await persistence.start();
    await persistence.close();
    const noTable = await omnibusProcess(['sagas', 'list', '--sqlite', bare, '--saga', 'orders']);
    expect(noTable.code).to.equal(2);
    expect(noTable.stderr).to.contain('has no saga table');
  });
});
