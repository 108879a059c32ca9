import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Envelope } from '@omnibus/core';
import { Header, MemoryTransport, uuidv7 } from '@omnibus/core';
import { uniqueName, waitFor } from '@omnibus/core/testing';
import type { CommandIo } from '../src/index.js';
import { loadToolConfig, run } from '../src/index.js';
import { createDlqCommands } from '../src/commands/dlq.js';

const contractsModule = fileURLToPath(new URL('./fixtures/edit-contracts.js', import.meta.url));

describe('omnibus dlq replay --edit with the application’s contracts', function () {
  this.timeout(30_000);

  it('refuses an edit its contract’s validate rejects, naming the field, and sends one it accepts', async function () {
    const transport = new MemoryTransport();
    await transport.connect();
    const queue = uniqueName('edit-contract');
    await transport.provision({ queues: [{ name: queue }] });
    const poison: Envelope = {
      id: uuidv7(),
      type: 'PlaceOrder',
      headers: {
        [Header.specVersion]: '1.0',
        [Header.source]: 'test',
        [Header.contentType]: 'application/json',
      },
      body: Buffer.from(JSON.stringify({ sku: 'A1', quantity: -1 })),
    };
    let dead = false;
    const consumer = await transport.consume(
      { kind: 'queue', queue },
      async (delivery) => {
        await delivery.deadLetter({
          code: 'CONTRACT_VIOLATION',
          message: 'bad quantity',
          attempts: 1,
          failedAt: new Date(),
        });
        dead = true;
      },
      { concurrency: 1 },
    );
    await transport.publish({ kind: 'queue', queue }, [poison]);
    await waitFor(() => dead, { timeoutMs: 5_000, message: 'the dead letter' });
    await consumer.close();

    const dir = mkdtempSync(join(tmpdir(), 'omnibus-contracts-'));
    writeFileSync(join(dir, 'omnibus.config.json'), JSON.stringify({ contracts: contractsModule }));
    const commands = [
      createDlqCommands(async (options, io) => ({
        transport,
        config: await loadToolConfig(io.env, options.config as string | undefined),
        close: async () => {},
      })),
    ];
    const omnibus = async (quantity: string) => {
      const stderr: string[] = [];
      const io: CommandIo = {
        stdout: () => {},
        stderr: (line) => stderr.push(line),
        signal: new AbortController().signal,
        env: {
          EDITOR: `node -e "const f=process.argv[1],fs=require('fs');fs.writeFileSync(f,fs.readFileSync(f,'utf8').replace('-1','${quantity}'))"`,
        },
      };
      const argv = ['dlq', 'replay', '--config', join(dir, 'omnibus.config.json'), '--queue', queue];
      const code = await run([...argv, '--id', poison.id, '--edit', '--wait', '300'], io, commands);
      return { code, stderr: stderr.join('\n') };
    };

    const refused = await omnibus('0');
    expect(refused.code).to.equal(1);
    expect(refused.stderr)
      .to.contain('payload.quantity: must be a positive number')
      .and.contain('CONTRACT_VIOLATION');
    const replayed: unknown[] = [];
    const back = await transport.consume(
      { kind: 'queue', queue },
      async (delivery) => {
        replayed.push(JSON.parse(Buffer.from(delivery.envelope.body).toString()));
      },
      { concurrency: 1 },
    );
    const accepted = await omnibus('4');
    expect(accepted.code, accepted.stderr).to.equal(0);
    await waitFor(() => replayed.length === 1, { timeoutMs: 5_000, message: 'the edited replay' });
    expect(replayed).to.deep.equal([{ sku: 'A1', quantity: 4 }]);
    await back.close();
    await transport.close();
  });
});
