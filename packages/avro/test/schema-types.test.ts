import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const script = join(root, 'scripts/schema-types.mjs');

async function generator(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [script, ...args], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('generated schema types (npm run schemas:types)', function () {
  this.timeout(20_000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'omnibus-schema-types-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('schemas/types.d.ts is up to date with schemas/ (else run `npm run schemas:types`)', async () => {
    const result = await generator('--check');
    expect(result.code, result.stderr).to.equal(0);
  });

  it('--check fails, naming the first difference, when a schema changed and the types did not', async () => {
    await cp(join(root, 'schemas'), dir, { recursive: true });
    const file = join(dir, 'orders/OrderConfirmed.avsc');
    const schema = JSON.parse(await readFile(file, 'utf8')) as { fields: unknown[] };
    schema.fields.push({ name: 'note', type: ['null', 'string'], default: null, doc: 'A note.' });
    await writeFile(file, JSON.stringify(schema));
    const stale = await generator('--check', '--dir', dir);
    expect(stale.code).to.equal(1);
    expect(stale.stderr).to.contain('is stale').and.contain('npm run schemas:types');
    expect(await generator('--dir', dir)).to.include({ code: 0 });
    const types = await readFile(join(dir, 'types.d.ts'), 'utf8');
    expect(types).to.contain('note: string | null;');
    expect(await generator('--check', '--dir', dir)).to.include({ code: 0 });
  });

  it('refuses a union avsc would wrap, and two types exported under one name', async () => {
    await writeFile(
      join(dir, 'A.avsc'),
      JSON.stringify({ type: 'record', name: 'A', fields: [{ name: 'n', type: ['int', 'long'] }] }),
    );
    const ambiguous = await generator('--dir', dir);
    expect(ambiguous.code).to.equal(2);
    expect(ambiguous.stderr).to.contain('ambiguous');
    await writeFile(
      join(dir, 'A.avsc'),
      JSON.stringify({ type: 'record', name: 'A', namespace: 'x', fields: [] }),
    );
    await writeFile(
      join(dir, 'B.avsc'),
      JSON.stringify({ type: 'record', name: 'A', namespace: 'y', fields: [] }),
    );
    const clash = await generator('--dir', dir);
    expect(clash.code).to.equal(2);
    expect(clash.stderr).to.contain('would both be exported as A');
  });
});
