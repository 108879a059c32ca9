import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

describe('code built without tsc', function () {
  this.timeout(60_000);

  it('runs a decorated handler class through tsx (esbuild), with no decorator metadata', async function () {
    const fixture = fileURLToPath(new URL('../../test/fixtures/esbuild-handler.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    expect(stdout.trim()).to.equal('hello, esbuild');
  });
});
