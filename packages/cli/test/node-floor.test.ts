import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const floor = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { engines: { node: string } })
  .engines.node;

/** Runs `script` on this Node dressed up as `version`: the checks read `process.versions.node`. */
function runAsNode(version: string, script: string, args: readonly string[] = []) {
  const pretend = `Object.defineProperty(process.versions, 'node', { value: '${version}' });`;
  return spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(pretend)}`, script, ...args],
    { cwd: root, encoding: 'utf8' },
  );
}

describe('the Node floor', () => {
  it('is the same >=22.16 in every package', () => {
    expect(floor).to.equal('>=22.16');
    const lock = JSON.parse(readFileSync(`${root}package-lock.json`, 'utf8')) as {
      packages: Record<string, { name?: string; engines?: { node?: string } }>;
    };
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path === '' || path.startsWith('packages/') || path.startsWith('apps/') || path === 'bench')
        expect(entry.engines?.node, path || 'root').to.equal(floor);
    }
  });

  for (const [what, script, args] of [
    ['the CLI (omnibus --help)', 'packages/cli/bin/omnibus.js', ['--help']],
    ['the demo (npm start)', 'apps/demo/dist/src/main.js', []],
    ['the test run (mocha, npm test)', 'scripts/check-node.mjs', []],
  ] as const) {
    it(`${what}: one line and exit 1 on an older Node, and runs on the floor`, () => {
      for (const old of ['20.20.2', '22.15.0']) {
        const result = runAsNode(old, script, args);
        expect(result.status, result.stderr).to.equal(1);
        expect(result.stderr).to.equal(`Omnibus needs Node >= 22.16, this is ${old}\n`);
        expect(result.stdout).to.equal('');
      }
      const onFloor = runAsNode('22.16.0', script, args);
      expect(onFloor.status, onFloor.stderr).to.equal(0);
      expect(onFloor.stderr).not.to.contain('Omnibus needs Node');
    });
  }
});
