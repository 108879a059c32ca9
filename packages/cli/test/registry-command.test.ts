import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SchemaRegistryClient } from '@omnibus/avro';
import { waitFor } from '@omnibus/core/testing';
import { cli } from './run-cli.js';

const schema = JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'int' }] });
const main = fileURLToPath(new URL('../src/main.js', import.meta.url));

describe('omnibus registry serve', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'omnibus-cli-registry-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Serves until the returned `stop` is called; resolves once listening. */
  async function serve(...args: (string | Record<string, string>)[]) {
    const stopping = new AbortController();
    let url: string | undefined;
    const env = args.find((arg) => typeof arg !== 'string') ?? {};
    const argv = args.filter((arg) => typeof arg === 'string');
    const done = cli(['registry', 'serve', '--port', '0', ...argv], {
      env,
      signal: stopping.signal,
      onStdout: (line) => {
        url = /listening on (\S+)/.exec(line)?.[1] ?? url;
      },
    });
    await waitFor(() => url !== undefined, { message: 'the registry to listen' });
    return {
      url: url!,
      stop: async () => {
        stopping.abort();
        return done;
      },
    };
  }

  it('serves a SQLite store that outlives it', async () => {
    const store = `sqlite:${join(dir, 'registry.db')}`;
    const first = await serve('--store', store);
    expect(await new SchemaRegistryClient({ url: first.url }).register('s', schema)).to.equal(1);
    const stopped = await first.stop();
    expect(stopped.code).to.equal(0);
    expect(stopped.stdout).to.contain('schema registry stopped');

    const second = await serve('--store', store);
    expect(await new SchemaRegistryClient({ url: second.url }).getVersion('s', 'latest')).to.deep.include({
      id: 1,
    });
    await second.stop();
  });

  it('requires basic auth when asked', async () => {
    const running = await serve('--basic-auth', 'admin:pw');
    const anonymous = await fetch(`${running.url}/subjects`);
    expect(anonymous.status).to.equal(401);
    const client = new SchemaRegistryClient({
      url: running.url,
      auth: { username: 'admin', password: 'pw' },
    });
    expect(await client.listSubjects()).to.deep.equal([]);
    await running.stop();
  });

  it('logs failed logins to stderr as JSON lines, without the password', async () => {
    const lines: string[] = [];
    const stopping = new AbortController();
    let url: string | undefined;
    const done = cli(['registry', 'serve', '--port', '0', '--basic-auth', 'admin:pw'], {
      signal: stopping.signal,
      onStdout: (line) => (url = /listening on (\S+)/.exec(line)?.[1] ?? url),
      onStderr: (line) => lines.push(line),
    });
    await waitFor(() => url !== undefined, { message: 'the registry to listen' });
    const guessed = await fetch(`${url!}/subjects`, {
      headers: { authorization: `Basic ${Buffer.from('admin:guess').toString('base64')}` },
    });
    expect(guessed.status).to.equal(401);
    await waitFor(() => lines.some((line) => line.includes('failed login')), { message: 'the log line' });
    const logged = JSON.parse(lines.find((line) => line.includes('failed login'))!) as Record<
      string,
      unknown
    >;
    expect(logged).to.include({ level: 'warn', failures: 1 });
    expect(lines.join('\n')).not.to.contain('guess');
    stopping.abort();
    expect((await done).code).to.equal(0);
  });

  it('reads basic auth from a file or the environment, not only the command line', async () => {
    const file = join(dir, 'credentials');
    await writeFile(file, 'admin:from-file\n', { mode: 0o600 });
    const fromFile = await serve('--basic-auth-file', file);
    const fileClient = new SchemaRegistryClient({
      url: fromFile.url,
      auth: { username: 'admin', password: 'from-file' },
    });
    expect(await fileClient.listSubjects()).to.deep.equal([]);
    expect((await fetch(`${fromFile.url}/subjects`)).status).to.equal(401);
    await fromFile.stop();

    const fromEnv = await serve({ OMNIBUS_REGISTRY_BASIC_AUTH: 'admin:from-env' });
    const envClient = new SchemaRegistryClient({
      url: fromEnv.url,
      auth: { username: 'admin', password: 'from-env' },
    });
    expect(await envClient.listSubjects()).to.deep.equal([]);
    expect((await fetch(`${fromEnv.url}/subjects`)).status).to.equal(401);
    await fromEnv.stop();

    const both = await cli([
      'registry',
      'serve',
      '--port',
      '0',
      '--basic-auth',
      'a:b',
      '--basic-auth-file',
      file,
    ]);
    expect(both.code).to.equal(2);
    expect(
      (await cli(['registry', 'serve', '--port', '0', '--basic-auth-file', join(dir, 'none')])).code,
    ).to.equal(2);
  });

  it('refuses a bad store, port or auth with exit code 2', async () => {
    expect((await cli(['registry', 'serve', '--store', 'redis://x'])).code).to.equal(2);
    expect((await cli(['registry', 'serve', '--port', 'eighty'])).code).to.equal(2);
    expect((await cli(['registry', 'serve', '--port', '0', '--basic-auth', 'nopassword'])).code).to.equal(2);
  });

  it('runs as the omnibus binary and stops cleanly on SIGTERM', async function () {
    this.timeout(20_000);
    const child = spawn(process.execPath, [main, 'registry', 'serve', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => /listening on (\S+)/.test(output), {
        message: 'the binary to listen',
        timeoutMs: 15_000,
      });
      const url = /listening on (\S+)/.exec(output)![1]!;
      expect(await (await fetch(`${url}/schemas/types`)).json()).to.deep.equal(['AVRO']);
      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
      expect(output).to.contain('schema registry stopped');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
