import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';

const run = promisify(execFile);

/** Makes `chai` unresolvable, as in an application that never installed it. */
const HIDE_CHAI = `
import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, next) {
    if (specifier === 'chai' || specifier.startsWith('chai/')) {
      throw Object.assign(new Error("Cannot find package 'chai'"), { code: 'ERR_MODULE_NOT_FOUND' });
    }
    return next(specifier, context);
  },
});
`;

const PROBE = `
const testing = await import(process.env.TESTING_URL);
let polled = 0;
await testing.waitFor(() => ++polled === 3, { timeoutMs: 5000, intervalMs: 1 });
let chaiFound = true;
try { await import('chai'); } catch { chaiFound = false; }
let assertion = 'did not throw';
try { (await import(process.env.EXPECT_URL)).expect(1); } catch (error) { assertion = error.code; }
console.log(JSON.stringify({ polled, chaiFound, assertion, name: testing.uniqueName('t').startsWith('t') }));
`;

describe('@omnibus/core/testing without chai', function () {
  let dir: string;
  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'omnibus-no-chai-'));
    await writeFile(join(dir, 'hide-chai.mjs'), HIDE_CHAI);
    await writeFile(join(dir, 'probe.mjs'), PROBE);
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads, and waitFor works; only an assertion asks for chai, with a typed error', async function () {
    const { stdout } = await run(
      process.execPath,
      ['--import', join(dir, 'hide-chai.mjs'), join(dir, 'probe.mjs')],
      {
        env: {
          ...process.env,
          TESTING_URL: new URL('../src/testing/index.js', import.meta.url).href,
          EXPECT_URL: new URL('../src/testing/expect.js', import.meta.url).href,
        },
      },
    );
    expect(JSON.parse(stdout)).to.deep.equal({
      polled: 3,
      chaiFound: false,
      assertion: 'TESTING_PEER_MISSING',
      name: true,
    });
  });
});
