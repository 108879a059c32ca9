import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueSource, SubscriptionSource, Transport } from '@omnibus/core';
import { Header, uuidv7 } from '@omnibus/core';
import { SchemaRegistryClient } from '@omnibus/avro';
import type { Command, CommandGroup, CommandIo, OptionValues } from '../command.js';
import { EXIT_FAILURE, EXIT_NOTHING, EXIT_OK, UsageError } from '../command.js';
import type { ToolConfig } from '../config/tool-config.js';
import { loadToolConfig } from '../config/tool-config.js';
import type { DeadLetterFilter } from '../dead-letters/dead-letter-filter.js';
import { isFilterEmpty, matches } from '../dead-letters/dead-letter-filter.js';
import { deadLetterSession } from '../dead-letters/dead-letter-session.js';
import type { DeadLetterView } from '../dead-letters/dead-letter-view.js';
import { summaryLine, viewOf } from '../dead-letters/dead-letter-view.js';
import { loadAppContracts } from '../dead-letters/app-contracts.js';
import { PayloadDecoder, PayloadRejectedError } from '../dead-letters/payload-decoder.js';
import { replayDeadLetter } from '../dead-letters/replay-dead-letter.js';
import { replayProgress } from '../dead-letters/replay-progress.js';

/** Off a terminal, one progress line per this many replays. */
const PROGRESS_EVERY = 100;

/** An open transport for one command; `close` ends what the command opened. */
export interface OpenedTransport {
  readonly transport: Transport;
  readonly config: ToolConfig;
  close(): Promise<void>;
}

export type TransportOpener = (options: OptionValues, io: CommandIo) => Promise<OpenedTransport>;

/** The transport the configuration names, connected. */
export const openConfiguredTransport: TransportOpener = async (options, io) => {
  const config = await loadToolConfig(io.env, options.config as string | undefined);
  // Loaded when used: the six drivers' clients take seconds to load, and `omnibus --help` should not wait.
  const { transportFromConfig } = await import('../config/transport-from-config.js');
  const transport = transportFromConfig(config);
  await transport.connect(io.signal);
  return { transport, config, close: () => transport.close() };
};

const sourceOptions = {
  config: { type: 'string' },
  queue: { type: 'string' },
  channel: { type: 'string' },
  group: { type: 'string' },
  limit: { type: 'string' },
  wait: { type: 'string' },
  idle: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const sourceHelp = [
  '--config <file>    the tool configuration (default: $OMNIBUS_CONFIG, ./omnibus.config.json or .js)',
  '--queue <name>     the dead letters of this queue (commands), or',
  '--channel <name> --group <name>   those of this subscriber group (events)',
  '--limit <n>        examine at most this many dead letters (default 100, at most 5000)',
  '--wait <ms>        wait this long for the first dead letter (default 3000; Kafka 15000)',
  '--idle <ms>        end once no further dead letter came for this long (default 2000, at most --wait)',
  '--json             JSON output for scripts',
];

const filterOptions = {
  id: { type: 'string' },
  type: { type: 'string' },
  code: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
} as const;

const filterHelp = [
  '--id <id>          only the message with this id',
  '--type <type>      only messages of this type',
  '--code <code>      only failures with this error code',
  '--since <t>        only failures at or after this ISO date-time',
  '--until <t>        only failures before this ISO date-time',
];

function sourceOf(options: OptionValues): SubscriptionSource | QueueSource {
  const { queue, channel, group } = options;
  if (typeof queue === 'string' && channel === undefined && group === undefined)
    return { kind: 'queue', queue };
  if (queue === undefined && typeof channel === 'string' && typeof group === 'string') {
    return { kind: 'subscription', channel, group };
  }
  throw new UsageError('give --queue <name>, or --channel <name> and --group <name>');
}

function positive(options: OptionValues, name: string, fallback: number, max: number): number {
  const raw = options[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    throw new UsageError(`--${name} must be a number above 0 and at most ${max}, got ${String(raw)}`);
  }
  return value;
}

function time(options: OptionValues, name: string): Date | undefined {
  const raw = options[name];
  if (raw === undefined) return undefined;
  const value = new Date(String(raw));
  if (!Number.isFinite(value.getTime()))
    throw new UsageError(`--${name} must be an ISO date-time, got ${String(raw)}`);
  return value;
}

function filterOf(options: OptionValues): DeadLetterFilter {
  const filter: DeadLetterFilter = {
    ...(typeof options.id === 'string' ? { id: options.id } : {}),
    ...(typeof options.type === 'string' ? { type: options.type } : {}),
    ...(typeof options.code === 'string' ? { code: options.code } : {}),
    ...(options.since === undefined ? {} : { since: time(options, 'since')! }),
    ...(options.until === undefined ? {} : { until: time(options, 'until')! }),
  };
  return filter;
}

interface Scan {
  readonly of: SubscriptionSource | QueueSource;
  readonly limit: number;
  readonly firstWaitMs: number;
  readonly idleMs: number;
}

function scanOf(options: OptionValues, config: ToolConfig): Scan {
  const firstWaitMs = positive(options, 'wait', config.transport === 'kafka' ? 15_000 : 3_000, 600_000);
  return {
    of: sourceOf(options),
    limit: Math.floor(positive(options, 'limit', 100, 5_000)),
    firstWaitMs,
    idleMs: Math.min(firstWaitMs, positive(options, 'idle', 2_000, 600_000)),
  };
}

/** With `contracts`: the application's contracts loaded (only an edit needs them). */
async function decoderOf(config: ToolConfig, contracts = false): Promise<PayloadDecoder> {
  return new PayloadDecoder(
    config.registryUrl === undefined ? undefined : new SchemaRegistryClient({ url: config.registryUrl }),
    contracts && config.contracts !== undefined ? await loadAppContracts(config.contracts) : undefined,
  );
}

async function withTransport(
  open: TransportOpener,
  options: OptionValues,
  io: CommandIo,
  work: (opened: OpenedTransport) => Promise<number>,
): Promise<number> {
  sourceOf(options); // usage errors before any connection
  const opened = await open(options, io);
  try {
    return await work(opened);
  } finally {
    await opened.close();
  }
}

/** The views of the dead letters matching `filter`, each left in place. */
async function findDeadLetters(
  opened: OpenedTransport,
  scan: Scan,
  filter: DeadLetterFilter,
  io: CommandIo,
  decoder?: PayloadDecoder,
): Promise<DeadLetterView[]> {
  const found: DeadLetterView[] = [];
  await deadLetterSession(opened.transport, scan.of, { ...scan, signal: io.signal }, async (delivery) => {
    if (!matches(filter, delivery.envelope)) return 'kept';
    found.push(
      viewOf(delivery.envelope, decoder === undefined ? undefined : await decoder.decode(delivery.envelope)),
    );
    return filter.id === undefined ? 'kept' : 'stop';
  });
  return found;
}

/** Opens `value` as JSON in $EDITOR and returns what was saved. */
function editInEditor(value: unknown, io: CommandIo): unknown {
  const editor = io.env.VISUAL || io.env.EDITOR;
  if (editor === undefined) throw new UsageError('--edit needs $EDITOR (or $VISUAL)');
  const dir = mkdtempSync(join(tmpdir(), 'omnibus-edit-'));
  const file = join(dir, 'payload.json');
  try {
    writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
    const result = spawnSync(`${editor} "${file}"`, { shell: true, stdio: 'inherit', env: { ...io.env } });
    if (result.status !== 0)
      throw new PayloadRejectedError(
        `the editor (${editor}) exited with ${result.status ?? result.signal}: nothing sent`,
      );
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new PayloadRejectedError(
        `the edited payload is not JSON: ${(error as Error).message}: nothing sent`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function confirm(question: string): Promise<boolean> {
  const reader = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await reader.question(`${question} [y/N] `)).trim());
  } finally {
    reader.close();
  }
}

/** The `dlq` commands on the transports `open` gives; tests pass one holding a shared memory transport. */
export function createDlqCommands(open: TransportOpener = openConfiguredTransport): CommandGroup {
  const list: Command = {
    name: 'list',
    summary: 'the dead letters of a queue or subscriber group (left in place), oldest first',
    options: { ...sourceOptions, ...filterOptions },
    optionHelp: [...sourceHelp, ...filterHelp],
    run: (options, io) =>
      withTransport(open, options, io, async (opened) => {
        const found = await findDeadLetters(opened, scanOf(options, opened.config), filterOf(options), io);
        if (options.json === true) io.stdout(JSON.stringify(found));
        else {
          for (const view of found) io.stdout(summaryLine(view));
          io.stderr(`${found.length} dead letter${found.length === 1 ? '' : 's'}`);
        }
        return EXIT_OK;
      }),
  };

  const show: Command = {
    name: 'show',
    summary: 'one dead letter in full: headers, failure, stack, payload decoded (Avro through the registry)',
    options: { ...sourceOptions, id: { type: 'string' } },
    optionHelp: [...sourceHelp, '--id <id>          the message id (from dlq list)'],
    run: (options, io) => {
      if (typeof options.id !== 'string') throw new UsageError('--id <message id> is required');
      return withTransport(open, options, io, async (opened) => {
        const scan = scanOf(options, opened.config);
        const [view] = await findDeadLetters(
          opened,
          scan,
          { id: options.id as string },
          io,
          await decoderOf(opened.config),
        );
        if (view === undefined) {
          io.stderr(`no dead letter ${String(options.id)} in the first ${scan.limit} of this queue`);
          return EXIT_NOTHING;
        }
        io.stdout(JSON.stringify(view, null, options.json === true ? undefined : 2));
        return EXIT_OK;
      });
    },
  };

  const replay: Command = {
    name: 'replay',
    summary:
      'send dead letters back where they failed (or to one group); each is removed only once the broker has its replay',
    options: {
      ...sourceOptions,
      ...filterOptions,
      all: { type: 'boolean' },
      'to-group': { type: 'string' },
      rate: { type: 'string' },
      'dry-run': { type: 'boolean' },
      edit: { type: 'boolean' },
    },
    optionHelp: [
      ...sourceHelp,
      ...filterHelp,
      '--all              every dead letter (needed when no filter is given)',
      '--to-group <name>  an event: address this group instead of the one that failed',
      '--rate <n>         at most n replays a second',
      '--dry-run          print what would be replayed, change nothing',
      '--edit             with --id: edit the payload as JSON in $EDITOR; checked against its schema first',
    ],
    run: (options, io) => {
      const filter = filterOf(options);
      if (isFilterEmpty(filter) && options.all !== true) {
        throw new UsageError('say which: --id, a filter (--type, --code, --since, --until) or --all');
      }
      if (options.edit === true && filter.id === undefined) throw new UsageError('--edit needs --id');
      if (options['to-group'] !== undefined && options.channel === undefined) {
        throw new UsageError('--to-group is for a subscriber group’s dead letters (--channel, --group)');
      }
      const rate = options.rate === undefined ? undefined : positive(options, 'rate', 1, 10_000);
      const json = options.json === true;
      return withTransport(open, options, io, async (opened) => {
        const scan = scanOf(options, opened.config);
        const decoder = await decoderOf(opened.config, options.edit === true);
        let body: Uint8Array | undefined;
        if (options.edit === true) {
          // Edited with nothing held: an editor open for minutes must not outlast a broker's lease.
          const [view] = await findDeadLetters(opened, scan, filter, io, decoder);
          if (view?.payload === undefined) {
            io.stderr(`no dead letter ${filter.id!}`);
            return EXIT_NOTHING;
          }
          body = await decoder.encode(
            view.payload,
            editInEditor(PayloadDecoder.editable(view.payload), io),
            view.type,
          );
        }
        const replayId = uuidv7();
        const group = options['to-group'] as string | undefined;
        const ids: string[] = [];
        const tty = process.stderr.isTTY === true;
        // On a terminal the bar needs a total: counted first (one more look), unless one id is asked for.
        const total =
          !tty || json || options['dry-run'] === true
            ? undefined
            : filter.id !== undefined
              ? 1
              : (await findDeadLetters(opened, scan, filter, io)).length;
        const progress = replayProgress(
          {
            tty,
            json,
            every: PROGRESS_EVERY,
            // Off a terminal the lines go where the command's other messages go.
            write: tty ? (text) => process.stderr.write(text) : (text) => io.stderr(text.trimEnd()),
          },
          total,
        );
        let last = 0;
        await deadLetterSession(
          opened.transport,
          scan.of,
          { ...scan, signal: io.signal },
          async (delivery) => {
            // One that failed again after this run sent it back: the run has gone round once.
            if (delivery.envelope.headers[Header.replayId] === replayId) return 'stop';
            if (!matches(filter, delivery.envelope)) return 'kept';
            if (options['dry-run'] === true) {
              ids.push(delivery.envelope.id);
              if (!json) io.stdout(`would replay ${summaryLine(viewOf(delivery.envelope))}`);
              return filter.id === undefined ? 'kept' : 'stop';
            }
            if (rate !== undefined) {
              const wait = last + 1_000 / rate - Date.now();
              if (wait > 0) await sleep(wait, undefined, { signal: io.signal }).catch(() => {});
              if (io.signal.aborted) return 'stop';
              last = Date.now();
            }
            await replayDeadLetter(opened.transport, scan.of, delivery, {
              replayId,
              ...(opened.config.signing === undefined ? {} : { signing: opened.config.signing }),
              ...(group === undefined ? {} : { group }),
              ...(body === undefined ? {} : { body }),
            });
            ids.push(delivery.envelope.id);
            if (!json) io.stdout(`replayed ${delivery.envelope.id}`);
            progress.replayed(ids.length);
            return filter.id === undefined ? 'settled' : 'stop';
          },
        );
        progress.finish();
        const dryRun = options['dry-run'] === true;
        if (json)
          io.stdout(JSON.stringify({ [dryRun ? 'wouldReplay' : 'replayed']: ids.length, ids, dryRun }));
        else
          io.stderr(
            `${ids.length} dead letter${ids.length === 1 ? '' : 's'} ${dryRun ? 'would be ' : ''}replayed`,
          );
        return ids.length === 0 ? EXIT_NOTHING : EXIT_OK;
      });
    },
  };

  const purge: Command = {
    name: 'purge',
    summary: 'delete dead letters for good, after a confirmation (--yes in scripts)',
    options: {
      ...sourceOptions,
      ...filterOptions,
      all: { type: 'boolean' },
      yes: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
    },
    optionHelp: [
      ...sourceHelp,
      ...filterHelp,
      '--all              every dead letter (needed when no filter is given)',
      '--yes              do not ask (required when stdin is not a terminal)',
      '--dry-run          print what would be deleted, change nothing',
    ],
    run: (options, io) => {
      const filter = filterOf(options);
      if (isFilterEmpty(filter) && options.all !== true) {
        throw new UsageError('say which: --id, a filter (--type, --code, --since, --until) or --all');
      }
      const dryRun = options['dry-run'] === true;
      if (!dryRun && options.yes !== true && process.stdin.isTTY !== true) {
        throw new UsageError('purge deletes for good: pass --yes when stdin is not a terminal');
      }
      const json = options.json === true;
      return withTransport(open, options, io, async (opened) => {
        const scan = scanOf(options, opened.config);
        const found = await findDeadLetters(opened, scan, filter, io);
        if (found.length === 0) {
          if (json) io.stdout(JSON.stringify({ purged: 0, ids: [], dryRun }));
          else io.stderr('no dead letters match');
          return EXIT_NOTHING;
        }
        if (dryRun) {
          if (json)
            io.stdout(JSON.stringify({ wouldPurge: found.length, ids: found.map((v) => v.id), dryRun }));
          else for (const view of found) io.stdout(`would purge ${summaryLine(view)}`);
          return EXIT_OK;
        }
        if (options.yes !== true && !(await confirm(`delete ${found.length} dead letters for good?`))) {
          io.stderr('nothing deleted');
          return EXIT_FAILURE;
        }
        // Exactly those counted and confirmed: a dead letter arriving since is not deleted unseen.
        const chosen = new Set(found.map((view) => view.id));
        const ids: string[] = [];
        await deadLetterSession(
          opened.transport,
          scan.of,
          { ...scan, signal: io.signal },
          async (delivery) => {
            if (!chosen.has(delivery.envelope.id)) return 'kept';
            chosen.delete(delivery.envelope.id);
            await delivery.ack();
            ids.push(delivery.envelope.id);
            if (!json) io.stdout(`purged ${delivery.envelope.id}`);
            return chosen.size === 0 ? 'stop' : 'settled';
          },
        );
        if (json) io.stdout(JSON.stringify({ purged: ids.length, ids, dryRun }));
        else io.stderr(`${ids.length} dead letter${ids.length === 1 ? '' : 's'} purged`);
        return EXIT_OK;
      });
    },
  };

  return {
    name: 'dlq',
    summary: 'dead letters on any transport: list, show, replay, purge',
    commands: [list, show, replay, purge],
  };
}

export const dlqCommands: CommandGroup = createDlqCommands();
