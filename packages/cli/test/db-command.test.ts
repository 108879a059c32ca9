import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './run-cli.js';

describe('omnibus db migrate', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'omnibus-cli-'))));
  after(async () => rm(dir, { recursive: true, force: true }));

  it('migrates a SQLite file once, then says it is up to date; `omnibus migrate` is the short form', async () => {
    const path = join(dir, 'app.db');
    const first = await cli(['db', 'migrate', '--sqlite', path]);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.match(/^applied: /);
    const again = await cli(['migrate', '--sqlite', path]);
    expect(again).to.include({ code: 0, stdout: 'up to date' });
  });

  it('wants exactly one database', async () => {
    expect((await cli(['db', 'migrate'])).code).to.equal(2);
    const both = await cli(['db', 'migrate', '--sqlite', 'a.db', '--postgres', 'postgres://x']);
    expect(both.code).to.equal(2);
    expect(both.stderr).to.contain('exactly one');
  });
});
