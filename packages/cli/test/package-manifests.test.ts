import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

interface Manifest {
  readonly name: string;
  readonly private?: boolean;
  readonly license?: string;
  readonly bin?: Record<string, string>;
  readonly files?: readonly string[];
  readonly scripts?: Record<string, string>;
  readonly repository?: { readonly type: string; readonly url: string; readonly directory: string };
  readonly publishConfig?: { readonly access?: string };
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
}

function manifest(dir: string): Manifest {
  return JSON.parse(readFileSync(`${root}${dir}/package.json`, 'utf8')) as Manifest;
}

/** Every source file of a package, to see which libraries it imports. */
function sources(dir: string): string[] {
  return readdirSync(`${root}${dir}/src`, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => readFileSync(`${root}${dir}/src/${file}`, 'utf8'));
}

const packageDirs = readdirSync(`${root}packages`).map((name) => `packages/${name}`);
const publishable = packageDirs.filter((dir) => manifest(dir).private !== true);
const license = readFileSync(`${root}LICENSE`, 'utf8');

describe('the published packages (package.json, README, LICENSE)', () => {
  it('are every package but the broker lab; apps and bench stay private', () => {
    expect(publishable.length).to.be.greaterThan(10);
    expect(packageDirs.filter((dir) => !publishable.includes(dir))).to.deep.equal(['packages/lab']);
    const privateDirs = [
      'bench',
      ...readdirSync(`${root}apps`).map((name) => `apps/${name}`),
      'packages/lab',
    ];
    for (const dir of privateDirs) expect(manifest(dir).private, dir).to.equal(true);
  });

  it('the repository is MIT licensed, with the licence text at its root', () => {
    expect(license).to.match(/^MIT License\n/);
    expect(manifest('.').license).to.equal('MIT');
  });

  for (const dir of publishable) {
    const pkg = manifest(dir);
    describe(pkg.name, () => {
      it('builds itself when packed and ships dist, README and LICENSE', () => {
        // tsc -b with the packages it references, so a fresh clone packs complete; then stale outputs go.
        expect(pkg.scripts?.prepack).to.equal('node ../../scripts/prepack.mjs');
        expect(pkg.files).to.include.members(['dist/src', 'README.md', 'LICENSE']);
        if (pkg.bin !== undefined) expect(pkg.files).to.include('bin');
      });

      it('names its repository, directory included, and publishes in public', () => {
        expect(pkg.repository?.type).to.equal('git');
        expect(pkg.repository?.url).to.equal(manifest('packages/core').repository?.url);
        expect(pkg.repository?.directory).to.equal(dir);
        expect(pkg.name.startsWith('@omnibus/')).to.equal(true);
        expect(pkg.publishConfig?.access).to.equal('public');
      });

      it('has an MIT LICENSE (the root one) and a README titled with its name', () => {
        expect(pkg.license).to.equal('MIT');
        expect(readFileSync(`${root}${dir}/LICENSE`, 'utf8')).to.equal(license);
        expect(readFileSync(`${root}${dir}/README.md`, 'utf8')).to.match(new RegExp(`^# ${pkg.name}\n`));
      });

      it("takes inversify and reflect-metadata as peers: the user's own copies are the ones used", () => {
        const code = sources(dir).join('\n');
        for (const peer of ['inversify', 'reflect-metadata']) {
          expect(pkg.dependencies ?? {}, peer).not.to.have.property(peer);
          const imported = code.includes(`from '${peer}'`) || code.includes(`import '${peer}'`);
          if (imported) {
            expect(pkg.peerDependencies ?? {}, peer).to.have.property(peer);
            expect(pkg.devDependencies?.[peer], `${peer} for the workspace`).to.equal(
              pkg.peerDependencies?.[peer],
            );
          }
        }
      });
    });
  }
});
