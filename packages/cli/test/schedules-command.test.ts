import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqlitePersistence } from '@omnibus/sqlite';
import { omnibus, threeSchedules } from './schedules-fixture.js';

describe('omnibus schedules (SQLite, the built binary)', function () {
  this.timeout(30_000);
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'omnibus-cli-schedules-'));
    path = join(dir, 'app.db');
    const persistence = new SqlitePersistence({ path });
    await persistence.start();
    await persistence.schedules.add(undefined, threeSchedules());
    await persistence.close();
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('lists waiting messages earliest first, by type, before a time, and up to a limit', async () => {
    const all = await omnibus(['schedules', 'list', '--sqlite', path]);
    expect(all.code, all.stderr).to.equal(0);
    const lines = all.stdout.split('\n');
    expect(lines.map((line) => line.split('  ')[0])).to.deep.equal(['s-first', 's-late', 's-binary']);
    expect(lines[1]).to.contain('orders.Reminder').and.contain('channel:orders').and.contain('key=o-2');
    const timeouts = await omnibus([
      'schedules',
      'list',
      '--sqlite',
      path,
      '--type',
      'orders.Timeout',
      '--limit',
      '1',
    ]);
    expect(timeouts.stdout.split('\n'))
      .to.have.length(1)
      .and.satisfy((l: string[]) => l[0]!.startsWith('s-first'));
    const soon = new Date(Date.now() + 5_000_000).toISOString();
    const before = await omnibus(['schedules', 'list', '--sqlite', path, '--due-before', soon]);
    expect(before.stdout.split('\n').map((line) => line.split('  ')[0])).to.deep.equal(['s-first']);
  });

  it('shows one in full, with a binary body as base64, and fails for an unknown id', async () => {
    const shown = await omnibus(['schedules', 'show', '--sqlite', path, '--id', 's-late']);
    expect(shown.code, shown.stderr).to.equal(0);
    expect(JSON.parse(shown.stdout)).to.deep.include({
      id: 's-late',
      messageId: 'm-s-late',
      type: 'orders.Reminder',
      key: 'o-2',
      destination: 'channel:orders',
      headers: { 'x-note': 'hi' },
      body: '{"n":2}',
    });
    const binary = await omnibus(['schedules', 'show', '--sqlite', path, '--id', 's-binary']);
    expect(JSON.parse(binary.stdout)).to.have.property(
      'bodyBase64',
      Buffer.from([0xff, 0, 0xfe]).toString('base64'),
    );
    const missing = await omnibus(['schedules', 'show', '--sqlite', path, '--id', 'nope']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('no scheduled message nope');
  });

  it('cancels once (exit 0), then says it is not waiting (exit 1); reschedules what waits', async () => {
    expect(await omnibus(['schedules', 'cancel', '--sqlite', path, '--id', 's-first'])).to.include({
      code: 0,
      stdout: 'cancelled s-first',
    });
    expect((await omnibus(['schedules', 'cancel', '--sqlite', path, '--id', 's-first'])).code).to.equal(1);
    const at = '2030-01-02T03:04:05.000Z';
    const moved = await omnibus([
      'schedules',
      'reschedule',
      '--sqlite',
      path,
      '--id',
      's-binary',
      '--at',
      at,
    ]);
    expect(moved).to.include({ code: 0, stdout: `rescheduled s-binary to ${at}` });
    expect(
      (await omnibus(['schedules', 'reschedule', '--sqlite', path, '--id', 's-first', '--at', at])).code,
    ).to.equal(1);
    const database = new DatabaseSync(path);
    const rows = database.prepare('SELECT id, deliver_at FROM omnibus_schedules ORDER BY deliver_at').all();
    database.close();
    expect(rows.map((row) => row.id)).to.deep.equal(['s-late', 's-binary']);
    expect(Number(rows[1]!.deliver_at)).to.equal(Date.parse(at));
  });

  it('refuses wrong usage with exit 2: no database, a missing file, a file without the table, a bad time', async () => {
    expect((await omnibus(['schedules', 'list'])).code).to.equal(2);
    expect((await omnibus(['schedules', 'list', '--sqlite', join(dir, 'missing.db')])).code).to.equal(2);
    const empty = join(dir, 'empty.db');
    new DatabaseSync(empty).close();
    const bare = await omnibus(['schedules', 'list', '--sqlite', empty]);
    expect(bare.code).to.equal(2);
    expect(bare.stderr).to.contain('omnibus migrate');
    expect(
      (await omnibus(['schedules', 'reschedule', '--sqlite', path, '--id', 's-late', '--at', 'soon'])).code,
    ).to.equal(2);
    expect((await omnibus(['schedules', 'cancel', '--sqlite', path])).code).to.equal(2);
    expect((await omnibus(['schedules', 'list', '--sqlite', path, '--limit', '0'])).code).to.equal(2);
  });
});
