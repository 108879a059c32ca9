import { expect } from 'chai';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, OmnibusError, PersistenceUnavailableError, toOmnibusError } from '../src/index.js';

const packages = fileURLToPath(new URL('../../../', import.meta.url));

/** The TypeScript sources of every package, test helpers (`testing/`) left out. */
async function sources(): Promise<string[]> {
  const files: string[] = [];
  for (const name of await readdir(packages)) {
    const src = join(packages, name, 'src');
    const entries = await readdir(src, { recursive: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.endsWith('.ts') && !entry.split(/[\\/]/).includes('testing')) files.push(join(src, entry));
    }
  }
  return files;
}

/** Node's own error codes, which drivers read from socket errors; never ours. */
const SYSTEM_CODE = /^E[A-Z]+(_[A-Z]+)*$/;
/** Codes of client libraries' own errors (@platformatic/kafka's `PLT_KFK_*`), which drivers read; never ours. */
const CLIENT_CODE = /^PLT_KFK_[A-Z_]+$/;

describe('the error code catalogue', function () {
  it('lists every code a package sets', async function () {
    const catalogued = new Set<string>(Object.values(ErrorCode));
    const missing: string[] = [];
    let seen = 0;
    for (const file of await sources()) {
      const lines = (await readFile(file, 'utf8')).split('\n');
      lines.forEach((line, index) => {
        if (!/code/i.test(line) || /^\s*(\/\/|\*)/.test(line)) return;
        for (const [, code] of line.matchAll(/'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g)) {
          if (SYSTEM_CODE.test(code!) || CLIENT_CODE.test(code!)) continue;
          seen++;
          if (!catalogued.has(code!)) missing.push(`${file.slice(packages.length)}:${index + 1}: ${code}`);
        }
      });
    }
    expect(seen, 'codes found in the sources').to.be.greaterThan(50);
    expect(missing, 'codes missing from packages/core/src/error-codes.ts').to.deep.equal([]);
  });

  it('has each code under its own name', function () {
    for (const [name, code] of Object.entries(ErrorCode)) expect(code).to.equal(name);
  });

  it('has one code for an exhausted delivery limit, whichever broker counted', function () {
    const limitCodes = Object.keys(ErrorCode).filter((name) => /DELIVER/.test(name));
    expect(limitCodes).to.deep.equal(['MAX_DELIVERIES_EXCEEDED']);
  });

  it('gives the errors core decides on a class of their own', function () {
    const unavailable = new PersistenceUnavailableError('database down', {
      cause: new Error('ECONNREFUSED'),
    });
    expect(unavailable).to.be.instanceOf(OmnibusError);
    expect(unavailable).to.include({ code: ErrorCode.PERSISTENCE_UNAVAILABLE, retriable: true });
    expect(toOmnibusError(unavailable)).to.equal(unavailable);
  });
});
