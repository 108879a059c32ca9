import { expect } from 'chai';
import type { CommandGroup } from '../src/index.js';
import { EXIT_OK, UsageError, commandGroups, run } from '../src/index.js';
import { cli } from './run-cli.js';

describe('omnibus (the CLI dispatcher)', () => {
  it('lists every command with --help, and exits 2 with the list when given nothing', async () => {
    const help = await cli(['--help']);
    expect(help.code).to.equal(0);
    for (const line of ['db migrate', 'registry serve', 'schemas check', 'schemas register', '--version'])
      expect(help.stdout).to.contain(line);
    const nothing = await cli([]);
    expect(nothing.code).to.equal(2);
    expect(nothing.stderr).to.contain('usage: omnibus <group> <command>');
  });

  it('refuses an unknown group, command or option with exit code 2', async () => {
    expect(await cli(['nope'])).to.include({ code: 2 });
    const noCommand = await cli(['schemas']);
    expect(noCommand.code).to.equal(2);
    expect(noCommand.stderr).to.contain('check, register');
    expect((await cli(['schemas', 'explode'])).stderr).to.contain("unknown command 'explode'");
    const badOption = await cli(['schemas', 'check', '--colour']);
    expect(badOption.code).to.equal(2);
    expect(badOption.stderr).to.contain('--colour').and.contain('usage: omnibus schemas check');
  });

  it('prints the package version with --version', async () => {
    const result = await cli(['--version']);
    expect(result).to.include({ code: 0, stderr: '' });
    expect(result.stdout).to.match(/^\d+\.\d+\.\d+$/);
  });

  it('prints a command’s options with --help', async () => {
    const help = await cli(['registry', 'serve', '--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.contain('--store <memory|sqlite:path>');
  });

  it('runs a group given to it: how a new command group plugs in', async () => {
    const seen: unknown[] = [];
    const inbox: CommandGroup = {
      name: 'inbox',
      summary: 'inbox entries',
      commands: [
        {
          name: 'list',
          summary: 'list inbox entries',
          options: { queue: { type: 'string' } },
          optionHelp: ['--queue <name>'],
          run: async (values) => {
            seen.push(values.queue);
            if (values.queue === 'bad') throw new UsageError('no such queue');
            return EXIT_OK;
          },
        },
      ],
    };
    const io = { stdout: () => {}, stderr: () => {}, signal: new AbortController().signal, env: {} };
    expect(await run(['inbox', 'list', '--queue', 'payments'], io, [...commandGroups, inbox])).to.equal(0);
    expect(await run(['inbox', 'list', '--queue', 'bad'], io, [...commandGroups, inbox])).to.equal(2);
    expect(seen).to.deep.equal(['payments', 'bad']);
  });
});
