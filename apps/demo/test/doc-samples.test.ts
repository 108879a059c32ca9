import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../../scripts/check-doc-samples.mjs', import.meta.url));

function check(markdown: string) {
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-doc-samples-'));
  try {
    const file = join(dir, 'guide.md');
    writeFileSync(file, markdown);
    return spawnSync(process.execPath, [script, file], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fence = '```';

describe('the doc sample check (npm run lint)', function () {
  this.timeout(60_000);

  it('compiles complete and continued blocks against the workspace packages, decorators included', () => {
    const result = check(
      [
        `${fence}ts`,
        "import { Handle, Subscriber, defineEvent, type PayloadOf } from '@omnibus/core';",
        "export const Placed = defineEvent<{ id: string }>({ type: 't.Placed', channel: 't' });",
        `${fence}`,
        `${fence}ts continued`,
        "@Subscriber({ group: 'g' })",
        'export class H {',
        '  @Handle(Placed)',
        '  async on(e: PayloadOf<typeof Placed>) { void e.id; }',
        '}',
        `${fence}`,
        `${fence}ts fragment: options on their own`,
        'retry: { attempts: 3 }',
        `${fence}`,
      ].join('\n'),
    );
    expect(result.status, result.stderr).to.equal(0);
    // the continued block joins the first: one module; the fragment is not compiled
    expect(result.stdout).to.contain('doc samples: 1 ts block(s)');
  });

  it('fails at the markdown line of an undefined name, and on a fragment that does not say why', () => {
    const result = check(
      [
        '# A guide',
        `${fence}ts`,
        "import { defineEvent } from '@omnibus/core';",
        "defineEvent<OrderPlacedV1>({ type: 'o.Placed', channel: 'o' });",
        `${fence}`,
        `${fence}ts fragment`,
        'whatever',
        `${fence}`,
      ].join('\n'),
    );
    expect(result.status).to.equal(1);
    expect(result.stderr).to.match(/guide\.md:4:\d+: error TS2304: Cannot find name 'OrderPlacedV1'/);
    expect(result.stderr).to.contain('guide.md:6: a ts fragment must say why');
  });
});
