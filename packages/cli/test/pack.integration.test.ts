import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly main?: string;
  readonly types?: string;
  readonly bin?: Record<string, string>;
  readonly exports?: Record<string, { readonly types: string; readonly default: string }>;
  readonly peerDependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
}

interface PackResult {
  readonly name: string;
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

const readManifest = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Manifest;
const publishable = readdirSync(`${root}packages`)
  .map((name) => `packages/${name}`)
  .filter((dir) => readManifest(`${root}${dir}/package.json`).private !== true);

/**
 * The environment of a nested npm: without the variables npm sets for the script running us (`npm test`),
 * which would point the nested npm back at the monorepo. The cache and registry settings stay.
 */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) =>
        !/^npm_(package_|lifecycle_|config_(local_prefix|workspaces?|include_workspace_root)$)/i.test(name),
    ),
  );
}

function run(command: string, args: readonly string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, env: npmEnv(), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} (in ${cwd}) exited ${result.status}:\n${result.stderr}\n${result.stdout}`,
    );
  }
  return result.stdout;
}

/** A user's service, written outside the monorepo against the installed packages (getting-started's setup). */
const serviceSource = `import 'reflect-metadata';
import { Container, inject, injectable } from 'inversify';
import { Bus, Handle, MemoryTransport, Subscriber, defineEvent, omnibusModule, type PayloadOf } from '@omnibus/core';

const OrderPlaced = defineEvent<{ orderId: string }>({
  type: 'orders.OrderPlaced',
  channel: 'orders',
  key: (e) => e.orderId,
});

@injectable()
class Shipments {
  readonly shipped: string[] = [];
}

@injectable()
@Subscriber({ group: 'shipping' })
class Shipping {
  constructor(@inject(Shipments) private readonly shipments: Shipments) {}

  @Handle(OrderPlaced)
  async onPlaced(event: PayloadOf<typeof OrderPlaced>): Promise<void> {
    this.shipments.shipped.push(event.orderId);
  }
}

const container = new Container();
container.bind(Shipments).toSelf().inSingletonScope();
await container.load(omnibusModule({ transport: new MemoryTransport(), serviceName: 'shipping', handlers: [Shipping] }));
const bus = container.get(Bus);
await bus.start();
await bus.publish(OrderPlaced, { orderId: 'o-1' });
const shipments = container.get(Shipments);
const deadline = Date.now() + 10_000;
while (shipments.shipped.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
await bus.stop();
console.log(JSON.stringify({ shipped: shipments.shipped }));
`;

const stale = `packages/saga/dist/src/removed-module-${process.pid}.js`;

describe('the packed packages, installed into an app outside the monorepo', function () {
  this.timeout(180_000);
  let scratch: string;
  let packed: PackResult[];
  let app: string;

  before(function () {
    scratch = mkdtempSync(join(tmpdir(), 'omnibus-pack-'));
    const tarballs = join(scratch, 'tarballs');
    mkdirSync(tarballs);
    // The output of a module since renamed or deleted, which tsc -b leaves behind: prepack removes it.
    writeFileSync(join(root, stale), 'export {};\n');
    // Each package's prepack builds it (tsc -b, up to date here after npm run build).
    packed = JSON.parse(
      run(
        'npm',
        ['pack', '--json', '--pack-destination', tarballs, ...publishable.flatMap((dir) => ['-w', dir])],
        root,
      ),
    ) as PackResult[];

    app = join(scratch, 'app');
    mkdirSync(join(app, 'src'), { recursive: true });
    const core = readManifest(`${root}packages/core/package.json`);
    const rootManifest = readManifest(`${root}package.json`);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({
        name: 'shipping-service',
        private: true,
        type: 'module',
        dependencies: {
          ...Object.fromEntries(packed.map((p) => [p.name, `file:${join(tarballs, p.filename)}`])),
          inversify: core.peerDependencies?.inversify,
          'reflect-metadata': core.peerDependencies?.['reflect-metadata'],
        },
        devDependencies: {
          typescript: rootManifest.devDependencies?.typescript,
          '@types/node': rootManifest.devDependencies?.['@types/node'],
        },
      }),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          experimentalDecorators: true,
          skipLibCheck: true,
          types: ['node'],
          rootDir: 'src',
          outDir: 'dist',
        },
      }),
    );
    writeFileSync(join(app, 'src', 'main.ts'), serviceSource);
    // The npm cache is warm from the monorepo's own install: prefer it over the network.
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'error'], app);
  });

  after(function () {
    rmSync(join(root, stale), { force: true });
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it('packs every publishable package with its entry points, README and LICENSE; no tests, no stale outputs', () => {
    expect(packed.map((p) => p.name).sort()).to.deep.equal(
      publishable.map((dir) => readManifest(`${root}${dir}/package.json`).name).sort(),
    );
    for (const pack of packed) {
      const dir = publishable.find((d) => readManifest(`${root}${d}/package.json`).name === pack.name)!;
      const manifest = readManifest(`${root}${dir}/package.json`);
      const files = new Set(pack.files.map((f) => f.path));
      const entryPoints = [
        manifest.main,
        manifest.types,
        ...Object.values(manifest.bin ?? {}),
        ...Object.values(manifest.exports ?? {}).flatMap((e) => [e.types, e.default]),
      ].filter((path): path is string => path !== undefined);
      expect(entryPoints.length, pack.name).to.be.greaterThan(2);
      for (const path of [
        'package.json',
        'README.md',
        'LICENSE',
        ...entryPoints.map((p) => p.replace(/^\.\//, '')),
      ])
        expect(files.has(path), `${pack.name} ships ${path}`).to.equal(true);
      const unwanted = [...files].filter(
        (path) => path.startsWith('dist/test/') || path.includes('tsbuildinfo'),
      );
      expect(unwanted, pack.name).to.deep.equal([]);
      const withoutSource = [...files].filter(
        (path) =>
          path.startsWith('dist/src/') &&
          !files.has(path.replace(/^dist\/(.*)(\.d\.ts|\.js)(\.map)?$/, '$1.ts')),
      );
      expect(withoutSource, `${pack.name}: outputs whose source is gone`).to.deep.equal([]);
    }
    expect(existsSync(join(root, stale)), 'prepack removed the stale output').to.equal(false);
  });

  it('installs with one inversify and one reflect-metadata: the app’s own', () => {
    for (const dir of publishable) {
      const name = readManifest(`${root}${dir}/package.json`).name;
      for (const peer of ['inversify', 'reflect-metadata'])
        expect(existsSync(join(app, 'node_modules', name, 'node_modules', peer)), `${name}/${peer}`).to.equal(
          false,
        );
    }
  });

  it('compiles a decorated handler there with tsc, runs it, and the handler gets the published event', () => {
    run(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], app);
    const output = run(process.execPath, [join(app, 'dist', 'main.js')], app);
    expect(JSON.parse(output.trim().split('\n').at(-1)!)).to.deep.equal({ shipped: ['o-1'] });
  });

  it('links the omnibus bin, which runs from the installed package', () => {
    const { version } = readManifest(`${root}packages/cli/package.json`);
    const bin = join(app, 'node_modules', '.bin', 'omnibus');
    expect(run(process.execPath, [bin, '--version'], app)).to.equal(`${version}\n`);
    expect(run(process.execPath, [bin, '--help'], app)).to.contain('schemas check');
  });

  it('loads every installed package’s main entry', () => {
    const names = packed.map((p) => p.name);
    const script = `for (const name of ${JSON.stringify(names)}) await import(name); console.log('loaded');`;
    expect(run(process.execPath, ['--input-type=module', '-e', script], app).trim()).to.equal('loaded');
  });
});
