/**
 * `npm run bench -- kafka [messages] [rounds]`: Omnibus on Kafka beside raw kafkajs with the same
 * settings, in one run, against the brokers in OMNIBUS_KAFKA_BROKERS (default the lab's 127.0.0.1:9092):
 * - durability: idempotent producer, `acks: -1`; topics of 3 partitions;
 * - batching: 256 messages per produce request (raw and transport: one send of 256; bus: 256
 *   `bus.publish` calls at once, which the transport's produce queue turns into requests of that size);
 * - consuming: fetch wait 100 ms, 1 MiB per partition per fetch; raw kafkajs `eachMessage` with 3
 *   partitions at once and its default commit after each batch; Omnibus 64 deliveries in flight, one
 *   ack per message, settled offsets committed every 100 ms.
 * Four clients, 256-byte JSON payloads: raw kafkajs with the value only; raw kafkajs with the same
 * CloudEvents headers Omnibus writes (ce_id, ce_type, ce_specversion, ce_source, ce_time,
 * content-type, ce_correlationid; decoded to strings on receipt); the KafkaTransport alone (envelopes
 * in, a sink that acks); the whole Bus (`bus.publish`, a decorated handler behind the default pipeline).
 *
 * Phases per round, each on fresh topics and groups: publish N (no consumer) → consume those N (timed
 * from the first message handled, so the group join is not counted) → publish and consume N at once
 * (end-to-end, latency under load) → 1,000 messages one at a time (latency unloaded). Rounds run the
 * clients in turn; the table shows the median round.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Consumer, Producer } from 'kafkajs';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import {
  Consumer as PlatformaticConsumer,
  Producer as PlatformaticProducer,
  stringSerializers,
} from '@platformatic/kafka';
import { Bus, Handle, Subscriber, defineEvent } from '@omnibus/core';
import type { KafkaClientName } from '@omnibus/kafka';
import { KafkaTransport } from '@omnibus/kafka';

/** The client `KafkaTransport` uses when none is given (docs/kafka.md, "Two clients"). */
const DEFAULT_CLIENT: KafkaClientName = 'kafkajs';
import type { Tick } from './harness.js';
import { Receiver, median, tick } from './harness.js';
import { waitForLeaders } from './kafka-leaders.js';
import { percentile, printTable } from './table.js';

const brokers = (process.env.OMNIBUS_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim());
const PARTITIONS = 3;
const WINDOW = 256;
const PREFETCH = 64;
const UNLOADED = 1_000;
const TYPE = 'bench.Ticked';
/** Every topic of this run starts with it; the run deletes them at the end. */
const RUN_PREFIX = `bench-${randomUUID().slice(0, 8)}.`;
const consumerSettings = { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, maxWaitTimeMs: 100 };

interface Round {
  publish: number;
  consume: number;
  endToEnd: number;
  loaded: number[];
  unloaded: number[];
}

type Publisher = (ticks: Tick[]) => Promise<void>;

/** Publishes `count` ticks in windows of `window`, one window in flight; returns the seconds taken. */
async function publishAll(count: number, window: number, publish: Publisher): Promise<number> {
  const started = performance.now();
  for (let seq = 0; seq < count; seq += window) {
    const ticks: Tick[] = [];
    for (let i = seq; i < Math.min(count, seq + window); i++) ticks.push(tick(i));
    await publish(ticks);
  }
  return (performance.now() - started) / 1000;
}

async function phases(
  messages: number,
  receiver: Receiver,
  publish: Publisher,
  startConsuming: () => Promise<void>,
): Promise<Round> {
  const publishSeconds = await publishAll(messages, WINDOW, publish);
  const drained = receiver.expect(messages);
  await startConsuming();
  await drained;
  const consumeSeconds = (performance.now() - receiver.firstAt) / 1000;

  const endToEnd = receiver.expect(messages);
  const started = performance.now();
  await publishAll(messages, WINDOW, publish);
  await endToEnd;
  const endToEndSeconds = (performance.now() - started) / 1000;
  const loaded = receiver.latencies;

  const unloaded = receiver.expect(UNLOADED);
  await publishAll(UNLOADED, 1, publish);
  await unloaded;
  return {
    publish: messages / publishSeconds,
    consume: messages / consumeSeconds,
    endToEnd: messages / endToEndSeconds,
    loaded,
    unloaded: receiver.latencies,
  };
}

/** One way of publishing and consuming: raw kafkajs (with or without headers), the transport, the bus. */
interface Client {
  readonly publish: Publisher;
  startConsuming(): Promise<void>;
  close(): Promise<void>;
}

type Variant =
  | 'raw'
  | 'raw+ce'
  | 'platformatic'
  | 'platformatic+ce'
  | 'transport'
  | 'bus'
  | 'transport-platformatic'
  | 'bus-platformatic';

const ceHeaders = (): Record<string, string> => ({
  ce_id: randomUUID(),
  ce_type: TYPE,
  ce_specversion: '1.0',
  ce_source: 'bench',
  ce_time: new Date().toISOString(),
  'content-type': 'application/json',
  ce_correlationid: randomUUID(),
});

async function rawClient(receiver: Receiver, withHeaders: boolean): Promise<Client> {
  const topic = `${RUN_PREFIX}raw-${randomUUID()}`;
  const kafka = new Kafka({ brokers, clientId: 'bench-raw', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: false });
  await waitForLeaders(admin, topic, PARTITIONS);
  await admin.disconnect();
  const producer: Producer = kafka.producer({
    idempotent: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  let consumer: Consumer | undefined;
  return {
    publish: async (ticks) => {
      await producer.send({
        topic,
        acks: -1,
        messages: ticks.map((t) => ({
          value: Buffer.from(JSON.stringify(t)),
          ...(withHeaders ? { headers: ceHeaders() } : {}),
        })),
      });
    },
    startConsuming: async () => {
      consumer = kafka.consumer({
        groupId: `${topic}.bench`,
        sessionTimeout: consumerSettings.sessionTimeoutMs,
        heartbeatInterval: consumerSettings.heartbeatIntervalMs,
        maxWaitTimeInMs: consumerSettings.maxWaitTimeMs,
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: PARTITIONS,
        eachMessage: async ({ message }) => {
          if (withHeaders) {
            const headers: Record<string, string> = {};
            for (const name in message.headers) headers[name] = String(message.headers[name]);
          }
          receiver.receive(JSON.parse(message.value!.toString('utf8')) as Tick);
        },
      });
    },
    close: async () => {
      await consumer?.disconnect();
      await producer.disconnect();
    },
  };
}

/** The same two raw clients on @platformatic/kafka: idempotent producer, acks -1, one send of 256. */
async function platformaticClient(receiver: Receiver, withHeaders: boolean): Promise<Client> {
  const topic = `${RUN_PREFIX}platformatic-${randomUUID()}`;
  const kafka = new Kafka({ brokers, clientId: 'bench-raw', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: false });
  await waitForLeaders(admin, topic, PARTITIONS);
  await admin.disconnect();
  const producer = new PlatformaticProducer({
    clientId: 'bench-platformatic',
    bootstrapBrokers: brokers,
    idempotent: true,
    acks: -1,
    serializers: stringSerializers,
  });
  let consumer: PlatformaticConsumer | undefined;
  return {
    publish: async (ticks) => {
      await producer.send({
        messages: ticks.map((t) => ({
          topic,
          value: JSON.stringify(t),
          ...(withHeaders ? { headers: ceHeaders() } : {}),
        })),
      });
    },
    startConsuming: async () => {
      consumer = new PlatformaticConsumer({
        clientId: 'bench-platformatic',
        bootstrapBrokers: brokers,
        groupId: `${topic}.bench`,
        sessionTimeout: consumerSettings.sessionTimeoutMs,
        heartbeatInterval: consumerSettings.heartbeatIntervalMs,
        maxWaitTime: consumerSettings.maxWaitTimeMs,
      });
      const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: true });
      stream.on('data', (message) => {
        if (withHeaders) {
          const headers: Record<string, string> = {};
          for (const [name, value] of message.headers) headers[name.toString()] = value.toString();
        }
        receiver.receive(JSON.parse(message.value.toString('utf8')) as Tick);
      });
    },
    close: async () => {
      await consumer?.close(true);
      await producer.close();
    },
  };
}

const kafkaTransport = (client: KafkaClientName, rebalancing: 'eager' | 'cooperative' = 'eager') =>
  new KafkaTransport({
    client,
    brokers,
    clientId: 'bench-omnibus',
    partitions: PARTITIONS,
    consumer: { ...consumerSettings, rebalancing },
  });

async function transportClient(receiver: Receiver, client: KafkaClientName): Promise<Client> {
  const channel = `transport-${randomUUID()}`;
  const group = 'bench';
  const transport = kafkaTransport(client);
  await transport.provision({ channels: [{ name: channel }], subscriptions: [{ channel, group }] });
  let consumer: Awaited<ReturnType<KafkaTransport['consume']>> | undefined;
  return {
    publish: (ticks) =>
      transport.publish(
        { kind: 'channel', channel },
        ticks.map((t) => ({
          id: randomUUID(),
          type: TYPE,
          headers: {
            specversion: '1.0',
            source: 'bench',
            time: new Date().toISOString(),
            datacontenttype: 'application/json',
            correlationid: randomUUID(),
          },
          body: Buffer.from(JSON.stringify(t)),
        })),
      ),
    startConsuming: async () => {
      consumer = await transport.consume(
        { kind: 'subscription', channel, group },
        async (delivery) => {
          receiver.receive(JSON.parse(Buffer.from(delivery.envelope.body).toString('utf8')) as Tick);
          await delivery.ack();
        },
        { concurrency: PREFETCH },
      );
    },
    close: async () => {
      await consumer?.close();
      await transport.close();
    },
  };
}

async function busClient(receiver: Receiver, client: KafkaClientName): Promise<Client> {
  const channel = `bus-${randomUUID()}`;
  const group = 'bench';
  const Ticked = defineEvent<Tick>({ type: TYPE, channel });
  @Subscriber({ group, concurrency: PREFETCH })
  class TickHandler {
    @Handle(Ticked)
    tick(event: Tick): void {
      receiver.receive(event);
    }
  }
  const publisher = new Bus({ transport: kafkaTransport(client), serviceName: 'bench' });
  const consumer = new Bus({
    transport: kafkaTransport(client),
    serviceName: 'bench',
    handlers: [TickHandler],
  });
  await publisher.start();
  // The subscription exists before anything is published, as the consumer's own start would make it.
  await publisher.transport.provision({ channels: [{ name: channel }], subscriptions: [{ channel, group }] });
  return {
    publish: (ticks) => Promise.all(ticks.map((t) => publisher.publish(Ticked, t))).then(() => undefined),
    startConsuming: () => consumer.start(),
    close: async () => {
      await consumer.stop();
      await publisher.stop();
    },
  };
}

/**
 * How long consumption stops when a second member joins a group: one member consumes a steady stream
 * (64 messages every 10 ms, each handled in 1 ms, 16 in flight), a second member joins, and the longest
 * gap between two handled messages from the join until 3 s after is the pause. Duplicates are deliveries
 * of a message id already handled (the rebalance redelivers what was in flight).
 */
async function rebalancePause(
  client: KafkaClientName,
  rebalancing: 'eager' | 'cooperative',
): Promise<{ pauseMs: number; duplicates: number }> {
  const channel = `rebalance-${randomUUID()}`;
  const group = 'bench';
  const source = { kind: 'subscription', channel, group } as const;
  const first = kafkaTransport(client, rebalancing);
  const second = kafkaTransport(client, rebalancing);
  await first.provision({ channels: [{ name: channel }], subscriptions: [{ channel, group }] });
  const handledAt: number[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  const sink = async (delivery: Parameters<Parameters<KafkaTransport['consume']>[1]>[0]) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (seen.has(delivery.envelope.id)) duplicates++;
    seen.add(delivery.envelope.id);
    handledAt.push(performance.now());
    await delivery.ack();
  };
  let publishing = true;
  let seq = 0;
  const publisher = (async () => {
    while (publishing) {
      const batch = Array.from({ length: 64 }, () => ({
        id: randomUUID(),
        type: TYPE,
        key: `k-${seq++ % 32}`,
        headers: {},
        body: Buffer.from(JSON.stringify(tick(seq))),
      }));
      await first.publish({ kind: 'channel', channel }, batch);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const a = await first.consume(source, sink, { concurrency: 16 });
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const joinedAt = performance.now();
  const b = await second.consume(source, sink, { concurrency: 16 });
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const until = performance.now();
  publishing = false;
  await publisher;
  await Promise.all([a.close(), b.close()]);
  await Promise.all([first.close(), second.close()]);
  let pauseMs = 0;
  let previous = joinedAt;
  for (const at of handledAt) {
    if (at < joinedAt || at > until) continue;
    pauseMs = Math.max(pauseMs, at - previous);
    previous = at;
  }
  return { pauseMs: Math.round(pauseMs), duplicates };
}

async function round(variant: Variant, messages: number): Promise<Round> {
  const receiver = new Receiver();
  const client =
    variant === 'raw' || variant === 'raw+ce'
      ? await rawClient(receiver, variant === 'raw+ce')
      : variant === 'platformatic' || variant === 'platformatic+ce'
        ? await platformaticClient(receiver, variant === 'platformatic+ce')
        : variant === 'transport' || variant === 'transport-platformatic'
          ? await transportClient(receiver, variant === 'transport' ? 'kafkajs' : 'platformatic')
          : await busClient(receiver, variant === 'bus' ? 'kafkajs' : 'platformatic');
  try {
    return await phases(messages, receiver, client.publish, () => client.startConsuming());
  } finally {
    await client.close();
  }
}

async function deleteRunTopics(): Promise<void> {
  const admin = new Kafka({ brokers, clientId: 'bench-cleanup', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(RUN_PREFIX));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
  } finally {
    await admin.disconnect();
  }
}

function summary(name: string, rounds: Round[]): Record<string, string | number> {
  const pick = (f: (r: Round) => number[]) =>
    median(
      rounds.map((r) =>
        percentile(
          [...f(r)].sort((a, b) => a - b),
          50,
        ),
      ),
    );
  const p99 = (f: (r: Round) => number[]) =>
    median(
      rounds.map((r) =>
        percentile(
          [...f(r)].sort((a, b) => a - b),
          99,
        ),
      ),
    );
  return {
    client: name,
    'publish msg/s': Math.round(median(rounds.map((r) => r.publish))),
    'consume msg/s': Math.round(median(rounds.map((r) => r.consume))),
    'end-to-end msg/s': Math.round(median(rounds.map((r) => r.endToEnd))),
    'p50 ms (load)': pick((r) => r.loaded),
    'p99 ms (load)': p99((r) => r.loaded),
    'p50 ms (1 by 1)': pick((r) => r.unloaded),
    'p99 ms (1 by 1)': p99((r) => r.unloaded),
  };
}

const VARIANTS: readonly [Variant, string][] = [
  ['raw', 'kafkajs, value only'],
  ['raw+ce', 'kafkajs + CloudEvents headers'],
  ['platformatic', '@platformatic/kafka, value only'],
  ['platformatic+ce', '@platformatic/kafka + CE headers'],
  ['transport', 'KafkaTransport on kafkajs'],
  ['bus', 'Bus on kafkajs (full pipeline)'],
  ['transport-platformatic', 'KafkaTransport on platformatic'],
  ['bus-platformatic', 'Bus on platformatic (full pipeline)'],
];

export async function run(args: readonly string[]): Promise<void> {
  const messages = Number(args[0] ?? 20_000);
  const rounds = Number(args[1] ?? 3);
  const results = new Map<Variant, Round[]>(VARIANTS.map(([variant]) => [variant, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [variant] of VARIANTS) {
        results.get(variant)!.push(await round(variant, messages));
        process.stderr.write(`round ${r + 1}/${rounds}: ${variant} done\n`);
      }
    }
  } finally {
    await deleteRunTopics();
  }
  const rows = VARIANTS.map(([variant, label]) => summary(label, results.get(variant)!));
  const byVariant = new Map(VARIANTS.map(([variant], i) => [variant, rows[i]!]));
  const ratio = (label: string, of: Variant, to: Variant): Record<string, string | number> => {
    const row: Record<string, string | number> = { client: label };
    for (const column of Object.keys(rows[0]!).slice(1, 4)) {
      row[column] =
        `${Math.round((100 * Number(byVariant.get(of)![column])) / Number(byVariant.get(to)![column]))}%`;
    }
    return row;
  };
  printTable(
    `Kafka (${brokers.join(',')}): ${messages.toLocaleString('en-US')} messages of 256 bytes, ${PARTITIONS} partitions, idempotent producer, acks -1, median of ${rounds} rounds`,
    [
      ...rows,
      ratio('transport / kafkajs + CE headers', 'transport', 'raw+ce'),
      ratio('transport / kafkajs value only', 'transport', 'raw'),
      ratio('bus / kafkajs + CE headers', 'bus', 'raw+ce'),
      ratio('bus / kafkajs value only', 'bus', 'raw'),
      ratio('bus on platformatic / kafkajs value only', 'bus-platformatic', 'raw'),
      ratio('bus on platformatic / platformatic value only', 'bus-platformatic', 'platformatic'),
    ],
  );
  const pauses: Record<string, string | number>[] = [];
  try {
    const setups = [
      ['kafkajs', 'eager'],
      ['platformatic', 'eager'],
      ['platformatic', 'cooperative'],
    ] as const;
    for (const [client, rebalancing] of setups) {
      const runs = [];
      for (let r = 0; r < rounds; r++) runs.push(await rebalancePause(client, rebalancing));
      pauses.push({
        client: `${client}, ${rebalancing}`,
        'pause ms (median)': median(runs.map((run) => run.pauseMs)),
        'pause ms (max)': Math.max(...runs.map((run) => run.pauseMs)),
        'duplicates (median)': median(runs.map((run) => run.duplicates)),
      });
    }
  } finally {
    await deleteRunTopics();
  }
  printTable(`Kafka: consumption pause when a second member joins a group, ${rounds} runs each`, pauses);
  // The bus on the default client against bare kafkajs, the reference the targets are set against.
  const bare = ratio('', DEFAULT_CLIENT === 'kafkajs' ? 'bus' : 'bus-platformatic', 'raw');
  process.stdout.write(
    `kafka: bus vs bare raw client: publish ${bare['publish msg/s']}, consume ${bare['consume msg/s']}, end-to-end ${bare['end-to-end msg/s']}\n`,
  );
}
