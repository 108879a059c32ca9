import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { commandGroups } from '../src/index.js';
import { cli, withoutSqliteWarning } from './run-cli.js';

const bin = fileURLToPath(new URL('../../bin/omnibus.js', import.meta.url));
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function omnibus(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

/** The `name  summary` lines of one section of `omnibus --help`. */
function section(help: string, title: string): string[] {
  const start = help.split('\n').indexOf(`${title}:`);
  if (start < 0) return [];
  const lines = help.split('\n').slice(start + 1);
  const end = lines.indexOf('');
  return (end < 0 ? lines : lines.slice(0, end)).map((line) => line.trim());
}

describe('the omnibus bin', () => {
  it('prints its package version with --version', () => {
    const result = omnibus('--version');
    expect(result.status).to.equal(0);
    expect(result.stdout).to.equal(`${version}\n`);
    expect(withoutSqliteWarning(result.stderr)).to.equal('');
  });

  it('lists every command in --help, and every command it lists exists', async () => {
    const help = omnibus('--help');
    expect(help.status).to.equal(0);
    const listed = section(help.stdout, 'commands').map((line) => line.split(/\s+/).slice(0, 2).join(' '));
    const existing = commandGroups.flatMap((g) => g.commands.map((c) => `${g.name} ${c.name}`));
    expect(listed).to.deep.equal(existing);
    // One command through the bin; the rest in this process, through the same `run` the bin calls: a
    // spawned Node per command (each loading the CLI) took 30 s on a loaded machine.
    expect(omnibus(...listed[0]!.split(' '), '--help').stdout).to.match(
      new RegExp(`^usage: omnibus ${listed[0]!} \\[options\\]\n`),
    );
    for (const command of listed) {
      const own = await cli([...command.split(' '), '--help']);
      expect(own.code, command).to.equal(0);
      expect(own.stdout).to.match(new RegExp(`^usage: omnibus ${command} \\[options\\]\n`));
    }
  });

  it('lists each alias with what it stands for, and the alias runs that command', async () => {
    const aliases = section(omnibus('--help').stdout, 'aliases').map((line) => line.split(/\s+/));
    expect(aliases).to.deep.include(['migrate', 'db', 'migrate']);
    for (const [alias, ...target] of aliases) {
      const viaAlias = await cli([alias!, '--help']);
      expect(viaAlias.code, alias).to.equal(0);
      expect(viaAlias.stdout).to.equal((await cli([...target, '--help'])).stdout);
      expect(viaAlias.stdout).to.contain(`or: omnibus ${alias} [options]`);
    }
  });

  it("lists a group's commands with <group> --help", () => {
    const result = omnibus('schemas', '--help');
    expect(result.status).to.equal(0);
    expect(section(result.stdout, 'commands').map((line) => line.split(/\s+/)[0])).to.deep.equal([
      'check',
      'register',
    ]);
  });

  it('ends quietly with exit 0 when the reader of its output has gone (omnibus --help | head)', async () => {
    const child = spawn(process.execPath, [bin, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before the child has loaded: every write it makes to stdout fails with EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(withoutSqliteWarning(stderr)).to.equal('');
    expect(code).to.equal(0);
  });
});
