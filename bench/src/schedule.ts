/**
 * `npm run bench -- schedule [sizes] [lateness messages]`: scheduled messages.
 *
 * - PostgreSQL at growing backlogs (`sizes`, default `10000,100000,1000000` pending schedules, due a day
 *   or more from now, 256-byte JSON bodies, 500 keys, 8 types): the insert rate reaching that size
 *   (`store.add` outside a transaction, 5,000 rows a call); `cancel` by id and `list` first page (100,
 *   all types and one type), p50/p99 of 200 calls each; then the release rate of a burst of 20,000 that
 *   falls due at once, moved into the outbox and published into the in-memory transport by one relay
 *   (batch 500), counted from the relay's start to the last publish; and the table's size with its
 *   indexes.
 * - Lateness: a relay waiting (notifications: LISTEN/NOTIFY on PostgreSQL, in-process on SQLite),
 *   `lateness messages` (default 300) scheduled while the relay runs or in advance (see `lateness`);
 *   lateness = the publish into the transport minus the due time. SQLite (a file, WAL, with
 *   `synchronous` full and normal) and PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { OutboxStore, ScheduledMessage, ScheduleStore, Transport } from '@omnibus/core';
import { MemoryTransport, OutboxRelay, uuidv7 } from '@omnibus/core';
import { PostgresPersistence } from '@omnibus/postgres';
import { SqlitePersistence } from '@omnibus/sqlite';
import { percentile, printTable } from './table.js';

const postgresUrl = process.env.OMNIBUS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/omnibus';
const PAD = 'x'.repeat(256 - JSON.stringify({ seq: 1_000_000, pad: '' }).length);
const DAY = 86_400_000;
const BURST = 20_000;

function schedule(seq: number, channel: string, deliverAt: Date): ScheduledMessage {
  return {
    id: uuidv7(),
    destination: { kind: 'channel', channel },
    envelope: {
      id: uuidv7(),
      type: `bench.Timeout${seq % 8}`,
      key: `k${seq % 500}`,
      headers: { datacontenttype: 'application/json', source: 'bench', specversion: '1.0' },
      body: Buffer.from(JSON.stringify({ seq, pad: PAD })),
    },
    deliverAt,
    createdAt: new Date(),
  };
}

/** `transport` noting when each message id was published. */
function timed(inner: Transport, publishedAt: Map<string, number>): Transport {
  return {
    name: inner.name,
    capabilities: inner.capabilities,
    connect: () => inner.connect(),
    provision: (topology) => inner.provision(topology),
    consume: (source, sink, options) => inner.consume(source, sink, options),
    health: () => inner.health(),
    close: () => inner.close(),
    publish: async (destination, envelopes) => {
      await inner.publish(destination, envelopes);
      const now = Date.now();
      for (const envelope of envelopes) publishedAt.set(envelope.id, now);
    },
  };
}

async function timings(calls: number, call: (index: number) => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let index = 0; index < calls; index++) {
    const started = performance.now();
    await call(index);
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

const ms = (value: number) => Math.round(value * 100) / 100;

async function postgresAtSizes(sizes: readonly number[]) {
  const schema = `bench_sched_${Date.now().toString(36)}`;
  const persistence = new PostgresPersistence({ connectionString: postgresUrl, schema });
  try {
    await persistence.start();
  } catch (error) {
    await persistence.close();
    console.log(`PostgreSQL not reachable at ${postgresUrl}: skipped (${(error as Error).message})`);
    return [];
  }
  const rows = [];
  const channel = `bench-schedule-${Date.now().toString(36)}`;
  const store = persistence.schedules;
  const ids: string[] = [];
  let pending = 0;
  try {
    for (const size of sizes) {
      const started = performance.now();
      const before = pending;
      while (pending < size) {
        const batch: ScheduledMessage[] = [];
        for (let seq = pending; seq < Math.min(size, pending + 5_000); seq++) {
          batch.push(schedule(seq, channel, new Date(Date.now() + DAY + (seq % 100_000) * 1_000)));
        }
        await store.add(undefined, batch);
        for (const made of batch) if (ids.length < 1_000_000) ids.push(made.id);
        pending += batch.length;
      }
      const insertSeconds = (performance.now() - started) / 1000;
      await persistence.pool.query(`ANALYZE ${persistence.schema.schedules}`);
      const { rows: sized } = await persistence.pool.query<{ bytes: string }>(
        'SELECT pg_total_relation_size($1) AS bytes',
        [persistence.schema.schedules],
      );
      // Cancel ids spread over the table (each cancelled once); list the first page.
      const victims = Array.from({ length: 200 }, (_, i) => ids[Math.floor((i + 0.5) * (ids.length / 200))]!);
      const cancels = await timings(200, (i) => store.cancel(victims[i]!));
      pending -= 200;
      const lists = await timings(200, () => store.list({ limit: 100 }));
      const listsByType = await timings(200, () => store.list({ type: 'bench.Timeout3', limit: 100 }));

      // A burst falls due at once, behind everything else waiting.
      const due = new Date(Date.now() - 1_000);
      for (let start = 0; start < BURST; start += 5_000) {
        const batch: ScheduledMessage[] = [];
        for (let seq = start; seq < start + 5_000; seq++) batch.push(schedule(seq, channel, due));
        await store.add(undefined, batch);
      }
      const transport = new MemoryTransport({ maxQueueDepth: 2 * BURST });
      await transport.provision({ channels: [{ name: channel, ordered: true }] });
      const relay = new OutboxRelay({
        store: persistence.outbox,
        schedules: store,
        transport,
        batchSize: 500,
      });
      const releaseStarted = performance.now();
      await relay.start();
      while (relay.metrics.published < BURST) await new Promise((resolve) => setTimeout(resolve, 2));
      const releaseSeconds = (performance.now() - releaseStarted) / 1000;
      await relay.stop();
      rows.push({
        pending: size,
        'insert rows/s': Math.round((size - before) / insertSeconds),
        'table MB': Math.round(Number(sized[0]!.bytes) / 1_048_576),
        'cancel p50 ms': ms(percentile(cancels, 50)),
        'cancel p99 ms': ms(percentile(cancels, 99)),
        'list p50 ms': ms(percentile(lists, 50)),
        'list by type p50 ms': ms(percentile(listsByType, 50)),
        'release msgs/s': Math.round(BURST / releaseSeconds),
        errors: relay.metrics.publishErrors + relay.metrics.storeErrors,
      });
      await transport.close();
    }
  } finally {
    await persistence.pool.query(`DROP SCHEMA "${schema}" CASCADE`).catch(() => undefined);
    await persistence.close();
  }
  return rows;
}

interface LatenessStore {
  readonly name: string;
  readonly outbox: OutboxStore;
  readonly schedules: ScheduleStore;
  close(): Promise<void>;
}

async function latenessStores(directory: string): Promise<LatenessStore[]> {
  const stores: LatenessStore[] = [];
  // Every release is three commits (move into the outbox, claim, mark); with `full` each waits for an
  // fsync on the event loop the relay runs on.
  for (const synchronous of ['full', 'normal'] as const) {
    const sqlite = new SqlitePersistence({
      path: join(directory, `schedules-${synchronous}.db`),
      synchronous,
    });
    await sqlite.start();
    stores.push({
      name: `sqlite (synchronous ${synchronous})`,
      outbox: sqlite.outbox,
      schedules: sqlite.schedules,
      close: () => sqlite.close(),
    });
  }
  const schema = `bench_late_${Date.now().toString(36)}`;
  const postgres = new PostgresPersistence({ connectionString: postgresUrl, schema });
  try {
    await postgres.start();
    stores.push({
      name: 'postgres',
      outbox: postgres.outbox,
      schedules: postgres.schedules,
      close: async () => {
        await postgres.pool.query(`DROP SCHEMA "${schema}" CASCADE`);
        await postgres.close();
      },
    });
  } catch {
    await postgres.close();
  }
  return stores;
}

/**
 * `while adding`: scheduled one at a time, 5 ms apart, each 50–500 ms ahead (the producer shares the
 * process and, on SQLite, the connection with the relay); `in advance`: all written first in one call,
 * due over the next 1–3 s, so only the relay's wake-up and release are measured.
 */
async function lateness(store: LatenessStore, messages: number, mode: 'while adding' | 'in advance') {
  const channel = `bench-late-${Date.now().toString(36)}`;
  const memory = new MemoryTransport({ maxQueueDepth: messages * 2 });
  await memory.provision({ channels: [{ name: channel }] });
  const publishedAt = new Map<string, number>();
  const relay = new OutboxRelay({
    store: store.outbox,
    schedules: store.schedules,
    transport: timed(memory, publishedAt),
  });
  await relay.start();
  const dueAt = new Map<string, number>();
  if (mode === 'in advance') {
    const start = Date.now() + 1_000;
    const made = Array.from({ length: messages }, (_, seq) =>
      schedule(seq, channel, new Date(start + ((seq * 7919) % 2_000))),
    );
    await store.schedules.add(undefined, made);
    for (const one of made) dueAt.set(one.envelope.id, one.deliverAt.getTime());
  }
  for (let seq = 0; mode === 'while adding' && seq < messages; seq++) {
    const deliverAt = new Date(Date.now() + 50 + ((seq * 7919) % 450));
    const made = schedule(seq, channel, deliverAt);
    await store.schedules.add(undefined, [made]);
    dueAt.set(made.envelope.id, deliverAt.getTime());
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  while (publishedAt.size < messages) await new Promise((resolve) => setTimeout(resolve, 5));
  await relay.stop();
  await memory.close();
  const late = [...dueAt].map(([id, due]) => publishedAt.get(id)! - due).sort((a, b) => a - b);
  return {
    store: store.name,
    scheduled: mode,
    wakeup: store.name === 'postgres' ? 'LISTEN/NOTIFY + due-time timer' : 'in-process + due-time timer',
    messages,
    early: late.filter((value) => value < 0).length,
    'p50 ms': percentile(late, 50),
    'p99 ms': percentile(late, 99),
    'max ms': late[late.length - 1]!,
  };
}

export async function run(args: readonly string[]): Promise<void> {
  const sizes = (args[0] ?? '10000,100000,1000000').split(',').map(Number);
  const messages = Number(args[1] ?? 300);
  const directory = mkdtempSync(join(tmpdir(), 'omnibus-bench-schedule-'));
  const latenessRows = [];
  try {
    for (const store of await latenessStores(directory)) {
      try {
        for (const mode of ['while adding', 'in advance'] as const) {
          latenessRows.push(await lateness(store, messages, mode));
        }
      } finally {
        await store.close();
      }
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  // After the lateness runs: writing a million rows leaves the disk flushing for a while, and a SQLite
  // commit with `synchronous` full waits for its fsync behind that (p99 83 ms in a run measured after it).
  const sizeRows = await postgresAtSizes(sizes);
  printTable(
    `PostgreSQL schedules by backlog: insert, cancel by id, list first page (100), release of a ${BURST.toLocaleString('en-US')} burst into the memory transport (batch 500)`,
    sizeRows,
  );
  printTable('Release lateness (publish minus due time), relay waiting', latenessRows);
}
