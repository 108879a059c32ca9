/**
 * `npm run bench -- rpc [broker…]`: request/reply round trips per second at concurrency 1 and 64, with
 * p50/p99 latency, through `bus.request` beside the raw client doing the same pattern in the same run:
 * - rabbitmq: amqplib with a request queue and direct reply-to (`amq.rabbitmq.reply-to`);
 * - nats: a JetStream request stream answered on a core inbox;
 * - kafka: kafkajs with a request topic and a reply topic, a consumer group on each (bench/src/rpc/kafka.ts);
 * - sqs: @aws-sdk/client-sqs with a request queue and a reply queue, long polling (rpc/sqs.ts);
 * - pubsub: @google-cloud/pubsub with a request topic and a reply topic, a subscription on each (rpc/pubsub.ts);
 * - activemq: rhea with a request queue and a dynamic reply queue on Artemis (rpc/activemq.ts).
 * Each raw side says in its comment what it does; all of them send persistent messages and ack a
 * request only after its reply is stored, as the bus does. Brokers: memory, rabbitmq, nats, kafka, sqs,
 * pubsub, activemq (default: all). What a broker's runs make there is deleted after them (kafka, sqs,
 * pubsub, activemq). Ends with one line per broker: `<broker> rpc: bus vs bare raw client: c1 N%, c64 N%`.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connect as amqpConnect } from 'amqplib';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect, createInbox } from '@nats-io/transport-node';
import type { Transport } from '@omnibus/core';
import { Bus, Handle, MemoryTransport, Subscriber, defineQuery, silentLogger } from '@omnibus/core';
import { NatsTransport } from '@omnibus/nats';
import { RabbitMqTransport } from '@omnibus/rabbitmq';
import { activemqTransport, deleteActivemqRun, rawActivemq } from './rpc/activemq.js';
import { deleteKafkaRun, kafkaTransport, rawKafka } from './rpc/kafka.js';
import { deletePubSubProject, pubsubProject, pubsubTransport, rawPubSub } from './rpc/pubsub.js';
import { deleteSqsRun, rawSqs, sqsTransport } from './rpc/sqs.js';
import { percentile, printTable } from './table.js';

interface Ask {
  readonly n: number;
}
interface Answer {
  readonly n: number;
}

const RABBITMQ_URL = process.env.OMNIBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const NATS_URL = process.env.OMNIBUS_NATS_URL ?? 'nats://127.0.0.1:4222';
/** Round trips per measured run, by concurrency. */
const ROUND_TRIPS: Readonly<Record<number, number>> = { 1: 500, 64: 5_000 };
const CONCURRENCIES = [1, 64] as const;

interface Measured {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

type Ask1 = (n: number) => Promise<unknown>;

/** `total` round trips through `ask`, `concurrency` at a time. */
async function measure(ask: Ask1, concurrency: number, total: number): Promise<Measured> {
  // Warm-up: connections, links and JIT.
  await Promise.all(Array.from({ length: Math.min(concurrency, 16) }, (_, n) => ask(n)));
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const n = next++;
        const sent = performance.now();
        await ask(n);
        latencies.push(performance.now() - sent);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1_000;
  latencies.sort((a, b) => a - b);
  return { perSecond: total / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** A responder bus and a requester bus, each on a transport of its own (`shared`: one for both). */
async function busPair(makeTransport: () => Transport, shared = false) {
  const Query = defineQuery<Ask, Answer>({ type: 'bench.Ask', queue: `bench-rpc-${randomUUID()}` });
  @Subscriber({ group: 'bench-rpc', concurrency: 64 })
  class Responder {
    @Handle(Query, { retry: { attempts: 1 } })
    answer(ask: Ask): Answer {
      return { n: ask.n };
    }
  }
  const one = makeTransport();
  const responder = new Bus({
    transport: one,
    serviceName: 'responder',
    handlers: [Responder],
    logger: silentLogger,
    closeTransport: !shared,
  });
  const requester = new Bus({
    transport: shared ? one : makeTransport(),
    serviceName: 'requester',
    logger: silentLogger,
  });
  await responder.start();
  await requester.start();
  return {
    ask: (n: number) => requester.request(Query, { n }, { timeoutMs: 30_000 }),
    close: async () => {
      await requester.stop();
      await responder.stop();
    },
  };
}

/** amqplib: a request queue, direct reply-to, correlation ids: the classic RabbitMQ RPC. */
async function rawRabbitMq() {
  // Nagle off, as the transport has it: else a lone request waits for a delayed ACK (~40 ms).
  const connection = await amqpConnect(RABBITMQ_URL, { noDelay: true });
  const serverChannel = await connection.createChannel();
  const clientChannel = await connection.createChannel();
  const queue = `bench-rpc-raw-${randomUUID()}`;
  await serverChannel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await serverChannel.prefetch(64);
  await serverChannel.consume(queue, (message) => {
    if (message === null) return;
    serverChannel.sendToQueue(message.properties.replyTo as string, message.content, {
      correlationId: message.properties.correlationId as string,
    });
    serverChannel.ack(message);
  });
  const pending = new Map<string, () => void>();
  await clientChannel.consume(
    'amq.rabbitmq.reply-to',
    (message) => {
      if (message === null) return;
      const id = message.properties.correlationId as string;
      pending.get(id)?.();
      pending.delete(id);
    },
    { noAck: true },
  );
  return {
    ask: (n: number) =>
      new Promise<void>((resolve) => {
        const id = randomUUID();
        pending.set(id, resolve);
        clientChannel.sendToQueue(queue, Buffer.from(JSON.stringify({ n })), {
          replyTo: 'amq.rabbitmq.reply-to',
          correlationId: id,
          persistent: true,
        });
      }),
    close: async () => {
      await serverChannel.deleteQueue(queue);
      await connection.close();
    },
  };
}

/** nats.js: requests on a JetStream stream (as the bus's queues), answers on the asker's core inbox. */
async function rawNats() {
  const nc = await natsConnect({ servers: NATS_URL });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const name = `bench_rpc_${randomUUID().replaceAll('-', '')}`;
  const subject = `${name}.q`;
  await jsm.streams.add({ name, subjects: [subject] });
  await jsm.consumers.add(name, {
    durable_name: 'responder',
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 64,
  });
  const consumer = await js.consumers.get(name, 'responder');
  const messages = await consumer.consume({ max_messages: 64 });
  void (async () => {
    for await (const message of messages) {
      nc.publish(message.headers!.get('reply-inbox'), message.data, { headers: message.headers! });
      message.ack();
    }
  })();
  const inbox = createInbox();
  const pending = new Map<string, () => void>();
  nc.subscribe(inbox, {
    callback: (_error, message) => {
      const id = message.headers?.get('correlation') ?? '';
      pending.get(id)?.();
      pending.delete(id);
    },
  });
  await nc.flush();
  const { headers } = await import('@nats-io/transport-node');
  return {
    ask: async (n: number) => {
      const id = randomUUID();
      const done = new Promise<void>((resolve) => pending.set(id, resolve));
      const h = headers();
      h.set('reply-inbox', inbox);
      h.set('correlation', id);
      await js.publish(subject, JSON.stringify({ n }), { headers: h, msgID: id });
      await done;
    },
    close: async () => {
      messages.stop();
      await jsm.streams.delete(name);
      await nc.drain();
    },
  };
}

interface Side {
  ask: Ask1;
  close(): Promise<void>;
}

interface Broker {
  bus(): Promise<Side>;
  raw: (() => Promise<Side>) | undefined;
  rawName: string;
  /** Deletes what the broker's runs left on it. */
  cleanup?: () => Promise<void>;
  /** Round trips per measured run, by concurrency, where ROUND_TRIPS would take minutes. */
  roundTrips?: Readonly<Record<number, number>>;
}

/** A side on a Pub/Sub project of its own, deleted when the side closes. */
async function inPubSubProject(side: (projectId: string) => Promise<Side>): Promise<Side> {
  const projectId = pubsubProject();
  const opened = await side(projectId).catch(async (error: unknown) => {
    await deletePubSubProject(projectId);
    throw error;
  });
  return { ask: opened.ask, close: () => opened.close().finally(() => deletePubSubProject(projectId)) };
}

const BROKERS: Record<string, Broker> = {
  memory: { bus: () => busPair(() => new MemoryTransport(), true), raw: undefined, rawName: '-' },
  rabbitmq: {
    bus: () => busPair(() => new RabbitMqTransport({ url: RABBITMQ_URL })),
    raw: rawRabbitMq,
    rawName: 'amqplib direct reply-to',
  },
  nats: {
    bus: () => busPair(() => new NatsTransport({ servers: NATS_URL })),
    raw: rawNats,
    rawName: 'nats.js JetStream + inbox',
  },
  kafka: {
    bus: () => busPair(kafkaTransport),
    raw: rawKafka,
    rawName: 'kafkajs request + reply topic',
    cleanup: deleteKafkaRun,
  },
  sqs: {
    bus: () => busPair(sqsTransport),
    raw: rawSqs,
    rawName: 'SQS request + reply queue',
    cleanup: deleteSqsRun,
    // moto spends milliseconds of CPU per call (docs/benchmarks.md).
    roundTrips: { 1: 200, 64: 2_000 },
  },
  pubsub: {
    bus: () => inPubSubProject((projectId) => busPair(() => pubsubTransport(projectId))),
    raw: () => inPubSubProject(rawPubSub),
    rawName: 'Pub/Sub request + reply topic',
  },
  activemq: {
    bus: () => busPair(activemqTransport),
    raw: rawActivemq,
    rawName: 'rhea request queue + dynamic reply',
    cleanup: deleteActivemqRun,
  },
};

export async function run(args: readonly string[]): Promise<void> {
  const names = args.length > 0 ? args : Object.keys(BROKERS);
  const summaries: string[] = [];
  for (const name of names) {
    const broker = BROKERS[name];
    if (broker === undefined)
      throw new Error(`unknown broker ${name}; one of ${Object.keys(BROKERS).join(', ')}`);
    const rows: Record<string, string | number>[] = [];
    const ratios: string[] = [];
    try {
      await measureBroker(broker, rows, ratios);
    } finally {
      // Loud, but the figures measured are still printed.
      await broker.cleanup?.().catch((error: unknown) => {
        console.error(`${name}: not all of the run's resources were deleted:`, error);
        process.exitCode = 1;
      });
    }
    printTable(`${name} request/reply`, rows);
    if (ratios.length > 0) summaries.push(`${name} rpc: bus vs bare raw client: ${ratios.join(', ')}`);
  }
  console.log('');
  for (const line of summaries) console.log(line);
}

/** The bus, then the raw client, at each concurrency; a row for each into `rows`, their ratio into `ratios`. */
async function measureBroker(
  broker: Broker,
  rows: Record<string, string | number>[],
  ratios: string[],
): Promise<void> {
  for (const concurrency of CONCURRENCIES) {
    const total = (broker.roundTrips ?? ROUND_TRIPS)[concurrency]!;
    const bus = await broker.bus();
    const viaBus = await measure(bus.ask, concurrency, total).finally(() => bus.close());
    rows.push({
      client: 'bus.request',
      concurrency,
      'round trips/s': viaBus.perSecond,
      'p50 ms': viaBus.p50,
      'p99 ms': viaBus.p99,
    });
    if (broker.raw === undefined) continue;
    const raw = await broker.raw();
    const viaRaw = await measure(raw.ask, concurrency, total).finally(() => raw.close());
    rows.push({
      client: broker.rawName,
      concurrency,
      'round trips/s': viaRaw.perSecond,
      'p50 ms': viaRaw.p50,
      'p99 ms': viaRaw.p99,
    });
    ratios.push(`c${concurrency} ${Math.round((100 * viaBus.perSecond) / viaRaw.perSecond)}%`);
  }
}
