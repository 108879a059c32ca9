/**
 * `npm run bench -- outbox [rows] [latency messages]`: the transactional outbox relay.
 *
 * - Throughput: `rows` rows (default 20,000; 256-byte JSON bodies, 500 keys) are committed first, then
 *   one or two relays (batch 100) drain them into the transport; rows/s = rows / time until every row is
 *   published and marked. Targets: the in-memory transport, and Kafka (the lab's, 3 partitions, publish
 *   resolves once the broker acknowledged) when it answers.
 * - Latency: with a relay idle and waiting, `latency messages` (default 300) are committed one per
 *   transaction, 10 ms apart; commit-to-publish = from the commit resolving to the relay's publish to the
 *   transport resolving. Wake-ups by notification (PostgreSQL LISTEN/NOTIFY; in-process for SQLite) beside
 *   polling every 100 ms (the default without notifications) and every 10 ms; "idle claims/s" is what the
 *   relay costs the database while nothing happens.
 *
 * Stores: SQLite (a file in a temp directory, WAL), PostgreSQL at OMNIBUS_POSTGRES_URL (default the lab's)
 * when it answers, and the memory store as the floor.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type {
  Destination,
  Envelope,
  OutboxMessage,
  OutboxStore,
  Persistence,
  Transport,
} from '@omnibus/core';
import { MemoryPersistence, MemoryTransport, OutboxRelay, uuidv7 } from '@omnibus/core';
import { KafkaTransport } from '@omnibus/kafka';
import { PostgresPersistence } from '@omnibus/postgres';
import { SqlitePersistence } from '@omnibus/sqlite';
import { percentile, printTable } from './table.js';

const postgresUrl = process.env.OMNIBUS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/omnibus';
const PAD = 'x'.repeat(256 - JSON.stringify({ seq: 1_000_000, pad: '' }).length);
const KEYS = 500;

interface Store {
  readonly name: string;
  readonly persistence: Persistence & { outbox: OutboxStore };
  close(): Promise<void>;
}

interface Target {
  readonly name: string;
  readonly transport: Transport;
  readonly destination: Destination;
}

function envelope(seq: number, channel: string): OutboxMessage {
  const body = Buffer.from(JSON.stringify({ seq, pad: PAD }));
  const message: Envelope = {
    id: uuidv7(),
    type: 'bench.Row',
    key: `k${seq % KEYS}`,
    headers: { datacontenttype: 'application/json', source: 'bench', specversion: '1.0' },
    body,
  };
  return { destination: { kind: 'channel', channel }, envelope: message };
}

async function openStores(directory: string): Promise<Store[]> {
  const stores: Store[] = [];
  const memory = new MemoryPersistence();
  stores.push({ name: 'memory', persistence: memory, close: async () => undefined });
  const sqlite = new SqlitePersistence({ path: join(directory, `outbox-${Date.now()}.db`) });
  await sqlite.start();
  stores.push({ name: 'sqlite', persistence: sqlite, close: () => sqlite.close() });
  const schema = `bench_${Date.now().toString(36)}`;
  const postgres = new PostgresPersistence({ connectionString: postgresUrl, schema });
  try {
    await postgres.start();
    stores.push({
      name: 'postgres',
      persistence: postgres,
      close: async () => {
        await postgres.pool.query(`DROP SCHEMA "${schema}" CASCADE`);
        await postgres.close();
      },
    });
  } catch (error) {
    await postgres.close();
    console.log(`PostgreSQL not reachable at ${postgresUrl}: skipped (${(error as Error).message})`);
  }
  return stores;
}

/** The in-memory transport, then Kafka when it answers: one at a time, so one's timers never slow the other. */
async function* targets(): AsyncGenerator<Target> {
  const channel = `bench-outbox-${Date.now().toString(36)}`;
  const memory = new MemoryTransport();
  await memory.provision({ channels: [{ name: channel, ordered: true }] });
  try {
    yield { name: 'memory', transport: memory, destination: { kind: 'channel', channel } };
  } finally {
    await memory.close();
  }
  const kafka = new KafkaTransport({ clientId: 'omnibus-bench-outbox' });
  try {
    await kafka.connect(AbortSignal.timeout(10_000));
    await kafka.provision({ channels: [{ name: channel, ordered: true }] });
  } catch (error) {
    await kafka.close().catch(() => undefined);
    console.log(`Kafka not reachable: skipped (${(error as Error).message})`);
    return;
  }
  try {
    yield { name: 'kafka', transport: kafka, destination: { kind: 'channel', channel } };
  } finally {
    await kafka.close();
  }
}

async function commit(store: Store, messages: OutboxMessage[]): Promise<void> {
  await store.persistence.unitOfWork.transaction((tx) => store.persistence.outbox.add(tx, messages));
}

/** The store counting its claims; without `listen` when `notify` is false, so the relay polls. */
function instrumented(store: OutboxStore, notify: boolean, onClaim: () => void): OutboxStore {
  return {
    add: (tx, messages) => store.add(tx, messages),
    claim: (owner, limit, leaseMs) => {
      onClaim();
      return store.claim(owner, limit, leaseMs);
    },
    markPublished: (ids, keep) => store.markPublished(ids, keep),
    release: (owner, ids) => store.release(owner, ids),
    markFailed: (owner, id, reason) => store.markFailed(owner, id, reason),
    purgePublished: (before) => store.purgePublished(before),
    backlog: () => store.backlog(),
    ...(notify && store.listen !== undefined
      ? { listen: (onCommit: () => void) => store.listen!(onCommit) }
      : {}),
  };
}

async function throughput(store: Store, target: Target, rows: number, relays: number) {
  const channel = target.destination.kind === 'channel' ? target.destination.channel : '';
  for (let start = 0; start < rows; start += 1_000) {
    const batch: OutboxMessage[] = [];
    for (let seq = start; seq < Math.min(rows, start + 1_000); seq++) batch.push(envelope(seq, channel));
    await commit(store, batch);
  }
  const running = Array.from(
    { length: relays },
    () => new OutboxRelay({ store: store.persistence.outbox, transport: target.transport, batchSize: 100 }),
  );
  const started = performance.now();
  await Promise.all(running.map((relay) => relay.start()));
  const published = () => running.reduce((sum, relay) => sum + relay.metrics.published, 0);
  while (published() < rows) await new Promise((resolve) => setTimeout(resolve, 5));
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(running.map((relay) => relay.stop()));
  return {
    store: store.name,
    target: target.name,
    relays,
    rows,
    'rows/s': Math.round(rows / seconds),
    errors: running.reduce((sum, relay) => sum + relay.metrics.publishErrors + relay.metrics.storeErrors, 0),
  };
}

async function latency(store: Store, target: Target, mode: 'notify' | number, messages: number) {
  const channel = target.destination.kind === 'channel' ? target.destination.channel : '';
  const publishedAt = new Map<string, number>();
  const inner = target.transport;
  const timed: Transport = {
    name: inner.name,
    capabilities: inner.capabilities,
    connect: () => inner.connect(),
    provision: (topology) => inner.provision(topology),
    consume: (source, sink, options) => inner.consume(source, sink, options),
    health: () => inner.health(),
    close: () => inner.close(),
    publish: async (destination, envelopes) => {
      await inner.publish(destination, envelopes);
      const now = performance.now();
      for (const published of envelopes) publishedAt.set(published.id, now);
    },
  };
  let claims = 0;
  const counted = instrumented(store.persistence.outbox, mode === 'notify', () => claims++);
  const relay = new OutboxRelay({
    store: counted,
    transport: timed,
    ...(mode === 'notify' ? {} : { pollIntervalMs: mode }),
  });
  await relay.start();
  await new Promise((resolve) => setTimeout(resolve, 200));
  claims = 0;
  const idleStart = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const idleClaimsPerSecond = claims / ((performance.now() - idleStart) / 1000);

  const committedAt = new Map<string, number>();
  for (let seq = 0; seq < messages; seq++) {
    const message = envelope(seq, channel);
    await commit(store, [message]);
    committedAt.set(message.envelope.id, performance.now());
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  while (publishedAt.size < messages) await new Promise((resolve) => setTimeout(resolve, 5));
  await relay.stop();
  const latencies = [...committedAt].map(([id, at]) => publishedAt.get(id)! - at).sort((a, b) => a - b);
  return {
    store: store.name,
    target: target.name,
    'wake-up':
      mode === 'notify'
        ? store.name === 'postgres'
          ? 'LISTEN/NOTIFY'
          : 'in-process notify'
        : `poll ${mode} ms`,
    'p50 ms': percentile(latencies, 50),
    'p99 ms': percentile(latencies, 99),
    'max ms': latencies[latencies.length - 1]!,
    'idle claims/s': Math.round(idleClaimsPerSecond * 10) / 10,
  };
}

export async function run(args: readonly string[]): Promise<void> {
  const rows = Number(args[0] ?? 20_000);
  const messages = Number(args[1] ?? 300);
  const directory = mkdtempSync(join(tmpdir(), 'omnibus-bench-outbox-'));
  const stores = await openStores(directory);
  const throughputRows = [];
  const latencyRows = [];
  try {
    for await (const target of targets()) {
      for (const store of stores) {
        for (const relays of [1, 2]) {
          if (store.name === 'memory' && relays === 2) continue;
          const count = target.name === 'kafka' ? Math.min(rows, 10_000) : rows;
          throughputRows.push(await throughput(store, target, count, relays));
        }
      }
      for (const store of stores) {
        if (store.name === 'memory') continue;
        for (const mode of ['notify', 100, 10] as const)
          latencyRows.push(await latency(store, target, mode, messages));
      }
    }
  } finally {
    for (const store of stores) await store.close();
    rmSync(directory, { recursive: true, force: true });
  }
  printTable(
    'Outbox relay throughput: committed rows drained into the transport (batch 100, 500 keys, 256 B)',
    throughputRows,
  );
  printTable(
    `Commit-to-publish latency, ${messages} single-row transactions 10 ms apart, relay waiting`,
    latencyRows,
  );
}
