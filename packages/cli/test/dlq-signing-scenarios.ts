import { expect } from 'chai';
import type { SigningOptions, Transport } from '@omnibus/core';
import { Bus, Handle, Subscriber, constant, defineEvent, silentLogger } from '@omnibus/core';
import { uniqueName, waitFor } from '@omnibus/core/testing';
import type { CommandIo, TransportName } from '../src/index.js';
import { loadToolConfig, run } from '../src/index.js';
import type { TransportOpener } from '../src/commands/dlq.js';
import { createDlqCommands } from '../src/commands/dlq.js';

const SIGNING: SigningOptions = {
  keys: { k1: 'the-buses-signing-key-of-32-bytes-or-more' },
  signWith: 'k1',
};

/**
 * `dlq replay` on a bus with envelope signing and two groups: without the keys it refuses to replay to
 * one group; with them (`OMNIBUS_SIGNING_KEYS`) the replay is sealed, so only the failed group handles
 * it, and an edited payload is signed again, so the bus accepts it.
 */
export function runDlqSigningScenarios(
  name: TransportName,
  createTransport: () => Promise<Transport>,
  options: { readonly shared: boolean; readonly waitMs: number; readonly cliWaitMs: number },
): void {
  describe(`omnibus dlq replay on a signing bus (${name})`, function () {
    this.timeout(Math.max(60_000, options.waitMs * 4));
    let transport: Transport;
    let bus: Bus | undefined;

    beforeEach(async function () {
      transport = await createTransport();
    });
    afterEach(async function () {
      await bus?.stop();
      bus = undefined;
      await transport.close();
    });

    async function omnibus(argv: string[], env: Record<string, string> = {}) {
      const stdout: string[] = [];
      const stderr: string[] = [];
      const io: CommandIo = {
        stdout: (line) => stdout.push(line),
        stderr: (line) => stderr.push(line),
        signal: new AbortController().signal,
        env: { OMNIBUS_TRANSPORT: name, ...env },
      };
      const opener: TransportOpener | undefined = options.shared
        ? async (opened, io) => ({
            transport,
            config: await loadToolConfig(io.env, opened.config as string | undefined),
            close: async () => {},
          })
        : undefined;
      const code = await run(['dlq', ...argv, '--wait', String(options.cliWaitMs)], io, [
        createDlqCommands(opener),
      ]);
      return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
    }

    it('refuses without the keys, seals a replay to the failed group with them, and signs an edit', async function () {
      const Placed = defineEvent<{ n: number }>({ type: 'cli.Placed', channel: uniqueName('placed') });
      const groupA = uniqueName('a');
      const seen: string[] = [];
      let failA = true;
      @Subscriber({ group: groupA })
      class A {
        @Handle(Placed)
        placed(event: { n: number }) {
          seen.push(`a${event.n}`);
          if (failA) throw new Error('a is down');
        }
      }
      @Subscriber({ group: uniqueName('b') })
      class B {
        @Handle(Placed)
        placed(event: { n: number }) {
          seen.push(`b${event.n}`);
        }
      }
      bus = new Bus({
        transport,
        serviceName: 'cli-signing',
        handlers: [A, B],
        closeTransport: false,
        logger: silentLogger,
        retry: { attempts: 1, backoff: constant(0) },
        signing: SIGNING,
      });
      await bus.start();
      const until = (condition: () => boolean, message: string) =>
        waitFor(condition, { timeoutMs: options.waitMs, message });
      const count = (what: string) => seen.filter((s) => s === what).length;

      await bus.publish(Placed, { n: 1 });
      await until(() => bus!.stats.deadLettered === 1 && count('b1') === 1, 'the dead letter of group a');
      const source = ['--channel', Placed.channel, '--group', groupA];
      const keys = { OMNIBUS_SIGNING_KEYS: JSON.stringify(SIGNING) };

      const refused = await omnibus(['replay', ...source, '--all']);
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.contain('OMNIBUS_SIGNING_KEYS').and.contain('sealed');

      failA = false;
      const sealed = await omnibus(['replay', ...source, '--all'], keys);
      expect(sealed.code, sealed.stderr).to.equal(0);
      await until(() => count('a1') === 2, 'group a to handle the replay');
      await until(() => bus!.stats.notForThisGroup === 1, 'group b to ack the sealed replay unhandled');
      expect(count('b1')).to.equal(1);

      failA = true;
      await bus.publish(Placed, { n: 2 });
      await until(() => bus!.stats.deadLettered === 2 && count('b2') === 1, 'the second dead letter');
      failA = false;
      const listed = await omnibus(['list', ...source, '--json']);
      const [dead] = JSON.parse(listed.stdout) as { id: string }[];
      const edit = `node -e "const f=process.argv[1],fs=require('fs');fs.writeFileSync(f,fs.readFileSync(f,'utf8').replace('2','7'))"`;
      const unsigned = await omnibus(['replay', ...source, '--id', dead!.id, '--edit'], { EDITOR: edit });
      expect(unsigned.code).to.equal(1);
      expect(unsigned.stderr).to.contain('signed again');
      const edited = await omnibus(['replay', ...source, '--id', dead!.id, '--edit'], {
        ...keys,
        EDITOR: edit,
      });
      expect(edited.code, edited.stderr).to.equal(0);
      await until(() => count('a7') === 1, 'group a to handle the edited replay');
      await until(() => bus!.stats.notForThisGroup === 2, 'group b to ack it unhandled');
      expect(bus.stats.deadLettered).to.equal(2);
      expect(seen.filter((s) => s.startsWith('b'))).to.deep.equal(['b1', 'b2']);
    });
  });
}
