import { expect } from 'chai';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningRegistry } from '@omnibus/schema-registry';
import { startRegistry } from '@omnibus/schema-registry';
import { cli } from './run-cli.js';

const repoSchemas = fileURLToPath(new URL('../../../../schemas', import.meta.url));

describe('omnibus schemas check / register', () => {
  let registry: RunningRegistry;
  let dir: string;

  beforeEach(async () => {
    registry = await startRegistry({ port: 0 });
    dir = await mkdtemp(join(tmpdir(), 'omnibus-cli-schemas-'));
    await cp(repoSchemas, dir, {
      recursive: true,
      filter: (path) => !path.endsWith('.ts') && !path.endsWith('.json'),
    });
  });
  afterEach(async () => {
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });

  const args = (...more: string[]) => ['--dir', dir, '--strategy', 'topic-record', ...more];

  it('checks the sample schemas without a registry', async () => {
    const result = await cli(['schemas', 'check', ...args()]);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.contain('✓ orders/OrderPlaced.avsc → orders-orders.OrderPlaced: valid');
    expect(result.stdout).to.contain('13 schemas: 13 ok, 0 failed');
    // TopicRecordNameStrategy is the default, as it is the serializer's.
    const byDefault = await cli(['schemas', 'check', '--dir', dir]);
    expect(byDefault.code, byDefault.stderr).to.equal(0);
    expect(byDefault.stdout).to.contain('→ orders-orders.OrderPlaced: valid');
    expect(result.stdout).to.contain('compatibility with registered versions was not checked');
  });

  it('fails TopicNameStrategy on channels that carry several types, and says which strategy fits', async () => {
    const result = await cli(['schemas', 'check', '--dir', dir, '--strategy', 'topic']);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.contain('✗ orders/OrderPlaced.avsc → orders-value: subject shared');
    expect(result.stderr).to.contain('--strategy topic-record');
  });

  it('registers everything, then finds it registered; record strategy names subjects by record', async () => {
    const first = await cli(['schemas', 'register', ...args('--registry', registry.url)]);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.contain(
      '✓ orders/OrderPlaced.avsc → orders-orders.OrderPlaced: registered version 1, id',
    );
    const again = await cli(['schemas', 'check', ...args('--registry', registry.url)]);
    expect(again.code).to.equal(0);
    expect(again.stdout).to.match(
      /OrderPlaced.avsc → orders-orders.OrderPlaced: registered: version 1, id \d+/,
    );
    const byRecord = await cli([
      'schemas',
      'register',
      '--dir',
      dir,
      '--strategy',
      'record',
      '--registry',
      registry.url,
    ]);
    expect(byRecord.code, byRecord.stderr).to.equal(0);
    expect(byRecord.stdout).to.contain('→ payments.ProcessPayment: registered version 1');
  });

  it('fails an incompatible change with the reason, and registers nothing', async () => {
    await cli(['schemas', 'register', ...args('--registry', registry.url)]);
    const file = join(dir, 'orders/OrderPlaced.avsc');
    const schema = JSON.parse(await readFile(file, 'utf8')) as { fields: unknown[] };
    schema.fields.push({ name: 'channelCode', type: 'string', doc: 'Sales channel.' });
    await writeFile(file, JSON.stringify(schema));
    const compatibleFile = join(dir, 'orders/OrderConfirmed.avsc');
    const compatible = JSON.parse(await readFile(compatibleFile, 'utf8')) as { fields: unknown[] };
    compatible.fields.push({ name: 'note', type: ['null', 'string'], default: null });
    await writeFile(compatibleFile, JSON.stringify(compatible));

    const checked = await cli(['schemas', 'check', ...args('--registry', registry.url)]);
    expect(checked.code).to.equal(1);
    expect(checked.stderr).to.contain(
      '✗ orders/OrderPlaced.avsc → orders-orders.OrderPlaced: incompatible (BACKWARD)',
    );
    expect(checked.stderr).to.contain("field 'channelCode'").and.contain('needs a default');
    expect(checked.stdout).to.contain(
      'OrderConfirmed.avsc → orders-orders.OrderConfirmed: new version, compatible (BACKWARD)',
    );

    const registered = await cli(['schemas', 'register', ...args('--registry', registry.url)]);
    expect(registered.code).to.equal(1);
    expect(registered.stderr).to.contain('nothing registered');
    const versions = await fetch(`${registry.url}/subjects/orders-orders.OrderConfirmed/versions`);
    expect(await versions.json()).to.deep.equal([1]);
  });

  it('names an invalid schema file', async () => {
    await writeFile(
      join(dir, 'orders/Broken.avsc'),
      '{"type":"record","name":"Broken","fields":[{"name":"x"}]}',
    );
    const result = await cli(['schemas', 'check', ...args()]);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.contain('✗ orders/Broken.avsc: invalid schema');
  });

  it('takes the registry from OMNIBUS_SCHEMA_REGISTRY_URL, and needs one to register', async () => {
    const viaEnv = await cli(['schemas', 'register', ...args()], {
      env: { OMNIBUS_SCHEMA_REGISTRY_URL: registry.url },
    });
    expect(viaEnv.code, viaEnv.stderr).to.equal(0);
    const none = await cli(['schemas', 'register', ...args()]);
    expect(none.code).to.equal(2);
    expect(none.stderr).to.contain('OMNIBUS_SCHEMA_REGISTRY_URL');
  });

  it('authenticates with --basic-auth', async () => {
    const secured = await startRegistry({ port: 0, auth: { username: 'ci', password: 'pw' } });
    try {
      const denied = await cli(['schemas', 'check', ...args('--registry', secured.url)]);
      expect(denied.code).to.equal(1);
      expect(denied.stderr).to.contain('401');
      const allowed = await cli([
        'schemas',
        'check',
        ...args('--registry', secured.url, '--basic-auth', 'ci:pw'),
      ]);
      expect(allowed.code, allowed.stderr).to.equal(0);
      expect((await cli(['schemas', 'check', ...args('--basic-auth', 'nocolon')])).code).to.equal(2);
    } finally {
      await secured.close();
    }
  });

  it('refuses an unknown strategy, an empty directory and a schema outside any directory', async () => {
    expect((await cli(['schemas', 'check', '--dir', dir, '--strategy', 'random'])).code).to.equal(2);
    const empty = await mkdtemp(join(tmpdir(), 'omnibus-cli-empty-'));
    try {
      const result = await cli(['schemas', 'check', '--dir', empty]);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain('no .avsc files');
      await writeFile(join(empty, 'Loose.avsc'), '{"type":"record","name":"Loose","fields":[]}');
      const loose = await cli(['schemas', 'check', '--dir', empty]);
      expect(loose.code).to.equal(1);
      expect(loose.stderr).to.contain('use --strategy record');
      expect((await cli(['schemas', 'check', '--dir', empty, '--strategy', 'record'])).code).to.equal(0);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
