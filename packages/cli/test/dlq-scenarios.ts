import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Delivery, Failure } from '@omnibus/core/transport';
import type { Envelope, QueueSource, Source, SubscriptionSource, Transport } from '@omnibus/core';
import { Header, uuidv7 } from '@omnibus/core';
import { uniqueName, waitFor } from '@omnibus/core/testing';
import type { CommandIo, TransportName } from '../src/index.js';
import { loadToolConfig, run, transportFromConfig } from '../src/index.js';
import type { TransportOpener } from '../src/commands/dlq.js';
import { createDlqCommands } from '../src/commands/dlq.js';
import type { DeadLetterView } from '../src/dead-letters/dead-letter-view.js';

/** One transport the `dlq` commands are tested on. */
export interface DlqTarget {
  readonly transport: TransportName;
  /** For `memory`: the transport every command of the test shares (one process's bus). */
  readonly shared?: Transport;
  /** Run the CLI as a process and SIGKILL it mid-replay (not for memory: it lives in one process). */
  readonly crashTest: boolean;
}

const bin = fileURLToPath(new URL('../../bin/omnibus.js', import.meta.url));

function json(type: string, payload: unknown): Envelope {
  return {
    id: uuidv7(),
    type,
    headers: {
      [Header.specVersion]: '1.0',
      [Header.source]: 'dlq-test',
      [Header.contentType]: 'application/json',
    },
    body: Buffer.from(JSON.stringify(payload)),
  };
}

function failure(code: string, message: string): Failure {
  return {
    code,
    message,
    attempts: 3,
    failedAt: new Date(),
    stack: `Error: ${message}\n    at handler (orders.ts:12:7)`,
  };
}

/**
 * The `dlq` commands against one transport, the same scenarios on each: dead letters made by the driver's
 * own `Delivery.deadLetter`, read back by the commands, replayed, edited, purged.
 */
export function runDlqScenarios(target: DlqTarget): void {
  const env = { OMNIBUS_TRANSPORT: target.transport };
  let transport: Transport;
  /** Set once `before` has connected (not when the broker probe failed). */
  let connected: Transport | undefined;
  const opener: TransportOpener | undefined =
    target.shared === undefined
      ? undefined
      : async (options, io) => ({
          transport: target.shared!,
          config: await loadToolConfig(io.env, options.config as string | undefined),
          close: async () => {},
        });
  const group = [createDlqCommands(opener)];

  async function omnibus(argv: string[], extraEnv: Record<string, string> = {}) {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const io: CommandIo = {
      stdout: (line) => stdout.push(line),
      stderr: (line) => stderr.push(line),
      signal: new AbortController().signal,
      env: { ...env, ...extraEnv },
    };
    // The dead letters a command reads are all in place before it runs, so a short idle end is safe and
    // keeps the scenarios from waiting the default 2 s after the last one, dozens of times per broker.
    // The first one may take longer to come than the default 3 s allows on a loaded machine (Pub/Sub
    // redelivering what the previous command released, under another client's traffic, missed it): a
    // command that finds its dead letter ends at once, so a longer first wait only costs the commands
    // that expect nothing, and those say `--wait` themselves.
    const waits = [
      ...(argv.includes('--idle') ? [] : ['--idle', '1000']),
      ...(argv.includes('--wait') || target.transport === 'kafka' ? [] : ['--wait', '10000']),
    ];
    const code = await run(['dlq', ...argv, ...waits], io, group);
    return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
  }

  async function listIds(source: string[]): Promise<string[]> {
    const result = await omnibus(['list', ...source, '--json']);
    expect(result.code, result.stderr).to.equal(0);
    return (JSON.parse(result.stdout) as { id: string }[]).map((view) => view.id).sort();
  }

  /**
   * Lists until exactly `expected` (sorted ids) are dead letters of `source`, with a deadline. A dead letter
   * that an earlier command held (kept or released on its close) may come back to the queue a moment after
   * that command ended (a visibility change, a nack in flight), and a list ends an idle second after the
   * last one it saw, so one list may miss it. A list showing one too many still fails at the deadline.
   */
  async function expectDeadLetters(
    source: string[],
    expected: string[],
    why = 'the dead letters',
  ): Promise<void> {
    let seen: string[] = [];
    await waitFor(
      async () => {
        seen = await listIds(source);
        return JSON.stringify(seen) === JSON.stringify(expected);
      },
      {
        timeoutMs: 30_000,
        intervalMs: 0,
        message: `${why}: exactly ${JSON.stringify(expected)} (the last list is compared below)`,
      },
    ).catch((error: unknown) => {
      expect(seen, (error as Error).message).to.deep.equal(expected);
    });
  }

  /** Dead-letters `envelopes` through the driver: consume `source`, `deadLetter` each with `why(envelope)`. */
  async function deadLetter(
    source: QueueSource | SubscriptionSource,
    envelopes: readonly Envelope[],
    why: (envelope: Envelope) => Failure,
  ): Promise<void> {
    const pending = new Set(envelopes.map((envelope) => envelope.id));
    const consumer = await transport.consume(
      source,
      async (delivery: Delivery) => {
        await delivery.deadLetter(why(delivery.envelope));
        pending.delete(delivery.envelope.id);
      },
      { concurrency: 10 },
    );
    await transport.publish(
      source.kind === 'queue'
        ? { kind: 'queue', queue: source.queue }
        : { kind: 'channel', channel: source.channel },
      envelopes,
    );
    await waitFor(() => pending.size === 0, { timeoutMs: 60_000, message: 'the dead letters' });
    await consumer.close();
  }

  /** What arrives on `source` until `count` have: the replays. */
  async function receive(
    source: Source,
    count: number,
    wanted: (envelope: Envelope) => boolean = () => true,
  ): Promise<Envelope[]> {
    const got: Envelope[] = [];
    const consumer = await transport.consume(
      source,
      async (delivery) => {
        if (wanted(delivery.envelope)) got.push(delivery.envelope);
        await delivery.ack();
      },
      { concurrency: 10 },
    );
    await waitFor(() => got.length >= count, { timeoutMs: 60_000, message: `${count} replayed messages` });
    await consumer.close();
    return got;
  }

  before(async function () {
    transport = target.shared ?? transportFromConfig(await loadToolConfig(env));
    await transport.connect();
    connected = transport;
  });
  after(async function () {
    if (target.shared === undefined) await connected?.close();
  });

  it('lists a queue’s dead letters with filters, shows one decoded, and leaves them in place', async function () {
    const queue = uniqueName('dlq-list');
    await transport.provision({ queues: [{ name: queue }] });
    const placed = [
      json('PlaceOrder', { sku: 'A-1', quantity: 2 }),
      json('PlaceOrder', { sku: 'B-2', quantity: 0 }),
      json('CancelOrder', { orderId: 'o-9' }),
    ];
    await deadLetter({ kind: 'queue', queue }, placed, (envelope) =>
      envelope.type === 'CancelOrder'
        ? failure('CONTRACT_VIOLATION', 'orderId unknown')
        : failure('HANDLER_ERROR', 'stock service down'),
    );
    const source = ['--queue', queue];
    await expectDeadLetters(source, placed.map((e) => e.id).sort());
    await expectDeadLetters([...source, '--type', 'CancelOrder'], [placed[2]!.id]);
    await expectDeadLetters([...source, '--code', 'HANDLER_ERROR'], [placed[0]!.id, placed[1]!.id].sort());
    expect(
      await listIds([...source, '--wait', '3000', '--since', new Date(Date.now() + 60_000).toISOString()]),
    ).to.deep.equal([]);
    const shown = await omnibus(['show', ...source, '--id', placed[1]!.id]);
    expect(shown.code, shown.stderr).to.equal(0);
    const view = JSON.parse(shown.stdout) as DeadLetterView;
    expect(view).to.deep.include({ id: placed[1]!.id, type: 'PlaceOrder' });
    expect(view.failure).to.deep.include({
      code: 'HANDLER_ERROR',
      message: 'stock service down',
      attempts: 3,
      destination: `queue:${queue}`,
    });
    expect(view.failure?.stack).to.contain('orders.ts:12:7');
    expect(view.payload).to.deep.equal({ format: 'json', value: { sku: 'B-2', quantity: 0 } });
    const text = await omnibus(['list', ...source]);
    expect(text.stdout.split('\n')).to.have.length(3);
    expect(text.stdout).to.contain('stock service down');
    const missing = await omnibus(['show', ...source, '--id', 'no-such-id', '--wait', '1000']);
    expect(missing.code).to.equal(3);
    await expectDeadLetters(source, placed.map((e) => e.id).sort(), 'list and show take nothing away');
  });

  it('replays one dead letter, then a filter, to the queue: the failure headers gone, the rest left', async function () {
    const queue = uniqueName('dlq-replay');
    await transport.provision({ queues: [{ name: queue }] });
    const placed = [
      json('PlaceOrder', { n: 1 }),
      json('PlaceOrder', { n: 2 }),
      json('CancelOrder', { n: 3 }),
    ];
    await deadLetter({ kind: 'queue', queue }, placed, () => failure('HANDLER_ERROR', 'down'));
    const source = ['--queue', queue];
    const dry = await omnibus(['replay', ...source, '--all', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).to.equal(0);
    expect(JSON.parse(dry.stdout)).to.deep.include({ wouldReplay: 3, dryRun: true });
    const one = await omnibus(['replay', ...source, '--id', placed[0]!.id, '--json']);
    expect(one.code, one.stderr).to.equal(0);
    expect(JSON.parse(one.stdout)).to.deep.include({ replayed: 1, ids: [placed[0]!.id] });
    const [back] = await receive({ kind: 'queue', queue }, 1);
    expect(back!.id).to.equal(placed[0]!.id);
    expect(JSON.parse(Buffer.from(back!.body).toString())).to.deep.equal({ n: 1 });
    expect(Object.keys(back!.headers).filter((name) => name.startsWith('omnibus-error-'))).to.deep.equal([]);
    await expectDeadLetters(source, [placed[1]!.id, placed[2]!.id].sort());
    const byType = await omnibus(['replay', ...source, '--type', 'CancelOrder', '--rate', '20']);
    expect(byType.code, byType.stderr).to.equal(0);
    expect((await receive({ kind: 'queue', queue }, 1)).map((e) => e.id)).to.deep.equal([placed[2]!.id]);
    await expectDeadLetters(source, [placed[1]!.id]);
    const none = await omnibus(['replay', ...source, '--type', 'Nothing', '--wait', '1000']);
    expect(none.code).to.equal(3);
    const usage = await omnibus(['replay', ...source]);
    expect(usage.code, 'no filter and no --all').to.equal(2);
  });

  it('replays an event to the group that failed, or to the group given', async function () {
    const channel = uniqueName('dlq-events');
    const failed = uniqueName('billing');
    const other = uniqueName('audit');
    await transport.provision({
      channels: [{ name: channel }],
      subscriptions: [
        { channel, group: failed },
        { channel, group: other },
      ],
    });
    const events = [json('OrderPlaced', { id: 1 }), json('OrderPlaced', { id: 2 })];
    const otherGot: Envelope[] = [];
    const otherConsumer = await transport.consume(
      { kind: 'subscription', channel, group: other },
      async (delivery) => {
        otherGot.push(delivery.envelope);
        await delivery.ack();
      },
      { concurrency: 10 },
    );
    await deadLetter({ kind: 'subscription', channel, group: failed }, events, () =>
      failure('HANDLER_ERROR', 'down'),
    );
    await waitFor(() => otherGot.length === 2, { timeoutMs: 30_000, message: 'the other group’s copies' });
    await otherConsumer.close();
    const source = ['--channel', channel, '--group', failed];
    await expectDeadLetters(source, events.map((e) => e.id).sort());
    const shown = JSON.parse(
      (await omnibus(['show', ...source, '--id', events[0]!.id])).stdout,
    ) as DeadLetterView;
    expect(shown.failure).to.deep.include({ destination: `channel:${channel}`, group: failed });
    const result = await omnibus(['replay', ...source, '--id', events[0]!.id]);
    expect(result.code, result.stderr).to.equal(0);
    const back = await receive({ kind: 'subscription', channel, group: failed }, 1);
    expect(back[0]!.id).to.equal(events[0]!.id);
    expect(back[0]!.headers[Header.targetGroup]).to.equal(failed);
    const redirected = await omnibus(['replay', ...source, '--id', events[1]!.id, '--to-group', other]);
    expect(redirected.code, redirected.stderr).to.equal(0);
    // Every group gets the channel's copy; the bus of a group that is not addressed acks it unhandled.
    const atOther = await receive(
      { kind: 'subscription', channel, group: other },
      1,
      (envelope) => envelope.headers[Header.targetGroup] === other,
    );
    expect(atOther.map((e) => [e.id, e.headers[Header.targetGroup]])).to.deep.equal([[events[1]!.id, other]]);
    expect(await listIds([...source, '--wait', '3000'])).to.deep.equal([]);
  });

  it('replay --edit sends the payload as edited in $EDITOR, and sends nothing when the edit is not JSON', async function () {
    const queue = uniqueName('dlq-edit');
    await transport.provision({ queues: [{ name: queue }] });
    const poison = json('PlaceOrder', { sku: 'A1', quantity: -1 });
    await deadLetter({ kind: 'queue', queue }, [poison], () =>
      failure('CONTRACT_VIOLATION', 'quantity must be positive'),
    );
    const source = ['--queue', queue, '--id', poison.id, '--edit'];
    const broken = await omnibus(['replay', ...source], {
      EDITOR: `node -e "require('fs').writeFileSync(process.argv[1], '{ not json')"`,
    });
    expect(broken.code).to.equal(1);
    expect(broken.stderr).to.contain('not JSON');
    await expectDeadLetters(['--queue', queue], [poison.id]);
    const fix = `node -e "const f=process.argv[1],fs=require('fs');fs.writeFileSync(f,fs.readFileSync(f,'utf8').replace('-1','5'))"`;
    const edited = await omnibus(['replay', ...source], { EDITOR: fix });
    expect(edited.code, edited.stderr).to.equal(0);
    const [back] = await receive({ kind: 'queue', queue }, 1);
    expect(back!.id).to.equal(poison.id);
    expect(JSON.parse(Buffer.from(back!.body).toString())).to.deep.equal({ sku: 'A1', quantity: 5 });
    expect(await listIds(['--queue', queue, '--wait', '3000'])).to.deep.equal([]);
  });

  it('purges one, then all, only with --yes off a terminal', async function () {
    const queue = uniqueName('dlq-purge');
    await transport.provision({ queues: [{ name: queue }] });
    const placed = [json('A', {}), json('A', {}), json('B', {})];
    await deadLetter({ kind: 'queue', queue }, placed, () => failure('HANDLER_ERROR', 'down'));
    const source = ['--queue', queue];
    expect((await omnibus(['purge', ...source, '--all'])).code, 'no --yes').to.equal(2);
    const dry = await omnibus(['purge', ...source, '--all', '--dry-run', '--json']);
    expect(JSON.parse(dry.stdout)).to.deep.include({ wouldPurge: 3 });
    const one = await omnibus(['purge', ...source, '--id', placed[1]!.id, '--yes', '--json']);
    expect(one.code, one.stderr).to.equal(0);
    expect(JSON.parse(one.stdout)).to.deep.include({ purged: 1, ids: [placed[1]!.id] });
    await expectDeadLetters(source, [placed[0]!.id, placed[2]!.id].sort());
    const all = await omnibus(['purge', ...source, '--all', '--yes']);
    expect(all.code, all.stderr).to.equal(0);
    expect(await listIds([...source, '--wait', '3000'])).to.deep.equal([]);
  });

  if (target.crashTest) {
    it('loses nothing when the CLI is SIGKILLed in the middle of a replay', async function () {
      const queue = uniqueName('dlq-crash');
      await transport.provision({ queues: [{ name: queue }] });
      const placed = Array.from({ length: 12 }, (_, n) => json('PlaceOrder', { n }));
      await deadLetter({ kind: 'queue', queue }, placed, () => failure('HANDLER_ERROR', 'down'));
      const replayed: Envelope[] = [];
      const consumer = await transport.consume(
        { kind: 'queue', queue },
        async (delivery) => {
          replayed.push(delivery.envelope);
          await delivery.ack();
        },
        { concurrency: 10 },
      );
      const child = spawn(
        process.execPath,
        [bin, 'dlq', 'replay', '--queue', queue, '--all', '--rate', '4'],
        {
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await waitFor(() => (output.match(/^replayed /gm)?.length ?? 0) >= 3, {
        timeoutMs: 60_000,
        message: `three replays: ${output}`,
      });
      child.kill('SIGKILL');
      await exited;
      const inFlight = output.match(/^replayed /gm)!.length;
      expect(inFlight, 'killed before the end').to.be.below(placed.length);
      // What the broker gives back after the crash (a lease expiring, a link closing) joins the dead letters.
      const wanted = new Set(placed.map((e) => e.id));
      let left: string[] = [];
      await waitFor(
        async () => {
          left = await listIds(['--queue', queue, '--wait', '5000']);
          const seen = new Set([...left, ...replayed.map((e) => e.id)]);
          return [...wanted].every((id) => seen.has(id));
        },
        { timeoutMs: 90_000, intervalMs: 1_000, message: 'every dead letter, replayed or still dead' },
      );
      await consumer.close();
      expect(replayed.length + left.length).to.be.at.least(placed.length);
    });
  }
}
