/**
 * `npm run bench -- pubsub [messages] [rounds]`: Omnibus on Google Pub/Sub beside the raw
 * `@google-cloud/pubsub` client with the same settings, in one run, against the emulator at
 * PUBSUB_EMULATOR_HOST (default the lab's pstest, 127.0.0.1:8085):
 * - durability: `publish` resolves when the server has the message (its id is back);
 * - batching: publisher batches of up to 100 messages / 10 ms, 256 publishes in flight (one message per
 *   publish, as `bus.publish` does);
 * - consuming: streaming pull, flow control of 64 messages (no excess), acks batched for 10 ms, on a
 *   subscription with a dead-letter topic and policy (as the transport provisions).
 * Payload: 256 bytes of JSON. Omnibus is the whole framework path: `bus.publish` (envelope, JSON,
 * CloudEvents attributes) and a decorated handler behind the default pipeline; raw is the client library
 * with `JSON.stringify`/`JSON.parse`.
 *
 * Phases per round, each in a fresh project (deleted after it): publish 20,000 to a topic nobody
 * subscribes to (publish throughput and client CPU) → publish N, then consume them (consume throughput)
 * → publish and consume N at once (end-to-end, latency under load) → 500 messages one at a time (latency
 * unloaded). Three variants: raw with a content type only, raw with the same CloudEvents attributes the
 * bus writes, and Omnibus; they take turns going first, and the table shows each one's median round.
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Message } from '@google-cloud/pubsub';
import { Duration, PubSub, SubscriptionCloseBehaviors } from '@google-cloud/pubsub';
import { Bus, Handle, Subscriber, defineEvent } from '@omnibus/core';
import { PubSubTransport } from '@omnibus/gcp-pubsub';
import type { ThroughputRound, Tick } from './harness.js';
import {
  Receiver,
  medianOf,
  publishWindowed as publishAll,
  throughputColumns,
  throughputRatios,
} from './harness.js';
import { printTable } from './table.js';

const emulatorHost = process.env.PUBSUB_EMULATOR_HOST ?? '127.0.0.1:8085';
const WINDOW = 256;
const FLOW_CONTROL = 64;
const UNLOADED = 500;
const PUBLISH_ONLY = 20_000;
const MAX_DELIVERIES = 6;
const BATCHING = { maxMessages: 100, maxMilliseconds: 10, maxBytes: 1024 * 1024 };
const TYPE = 'bench.Ticked';

interface Round extends ThroughputRound {
  /** CPU time of this process (client side only; the emulator runs apart) per message, in µs. */
  publishCpu: number;
  consumeCpu: number;
}

/** How to publish: to the channel the consumer reads, or to one nobody subscribes to (publish-only phase). */
interface Publishers {
  readonly subscribed: (t: Tick) => Promise<unknown>;
  readonly unsubscribed: (t: Tick) => Promise<unknown>;
}

async function phases(
  messages: number,
  receiver: Receiver,
  publish: Publishers,
  startConsuming: () => Promise<void>,
): Promise<Round> {
  // Publishing alone, long enough to measure: to a topic without subscriptions (Pub/Sub still stores
  // and acknowledges each message; the emulator has no subscription to copy it to).
  await publishAll(1_000, WINDOW, publish.unsubscribed);
  let cpu = process.cpuUsage();
  const publishSeconds = await publishAll(PUBLISH_ONLY, WINDOW, publish.unsubscribed);
  const publishCpu = cpuMicros(cpu) / PUBLISH_ONLY;

  await publishAll(messages, WINDOW, publish.subscribed);
  const drained = receiver.expect(messages);
  let started = performance.now();
  cpu = process.cpuUsage();
  await startConsuming();
  await drained;
  const consumeSeconds = (performance.now() - started) / 1000;
  const consumeCpu = cpuMicros(cpu) / messages;

  const endToEnd = receiver.expect(messages);
  started = performance.now();
  await publishAll(messages, WINDOW, publish.subscribed);
  await endToEnd;
  const endToEndSeconds = (performance.now() - started) / 1000;
  const loaded = receiver.latencies;

  const unloaded = receiver.expect(UNLOADED);
  await publishAll(UNLOADED, 1, publish.subscribed);
  await unloaded;
  return {
    publish: PUBLISH_ONLY / publishSeconds,
    consume: messages / consumeSeconds,
    publishCpu,
    consumeCpu,
    endToEnd: messages / endToEndSeconds,
    loaded,
    unloaded: receiver.latencies,
  };
}

function cpuMicros(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return used.user + used.system;
}

let sequence = 0;
const uniqueName = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${sequence++}`;

async function omnibusRound(projectId: string, messages: number): Promise<Round> {
  const channel = uniqueName('bench-omnibus');
  const group = 'bench';
  const Ticked = defineEvent<Tick>({ type: TYPE, channel });
  const Unheard = defineEvent<Tick>({ type: TYPE, channel: `${channel}-unheard` });
  const receiver = new Receiver();
  @Subscriber({ group, concurrency: FLOW_CONTROL })
  class TickHandler {
    @Handle(Ticked)
    tick(event: Tick): void {
      receiver.receive(event);
    }
  }
  // The dead-letter policy is off by default with an emulator; on here, as on Google Cloud and as for raw.
  const transport = () =>
    new PubSubTransport({ projectId, emulatorHost, batching: BATCHING, deadLetterPolicy: true });
  const publisher = new Bus({ transport: transport(), serviceName: 'bench' });
  const consumer = new Bus({
    transport: transport(),
    serviceName: 'bench',
    handlers: [TickHandler],
    retry: { attempts: MAX_DELIVERIES - 1 },
  });
  await publisher.start();
  await publisher.transport.provision({
    channels: [{ name: channel }, { name: Unheard.channel }],
    subscriptions: [{ channel, group, types: [TYPE], maxDeliveries: MAX_DELIVERIES }],
  });
  try {
    return await phases(
      messages,
      receiver,
      { subscribed: (t) => publisher.publish(Ticked, t), unsubscribed: (t) => publisher.publish(Unheard, t) },
      () => consumer.start(),
    );
  } finally {
    await consumer.stop();
    await publisher.stop();
  }
}

/**
 * The raw client. `cloudEvents`: with the attributes the bus writes (CloudEvents binary mode: id, type,
 * specversion, source, time, correlation id, content type), to tell what the message format costs in the
 * client library from what the framework costs; otherwise with a content type only.
 */
async function rawRound(projectId: string, messages: number, cloudEvents: boolean): Promise<Round> {
  const client = new PubSub({
    projectId,
    apiEndpoint: emulatorHost,
    emulatorMode: true,
    universeDomain: 'googleapis.com',
  });
  const name = uniqueName('bench-raw');
  const [topic] = await client.createTopic(name);
  const [unheard] = await client.createTopic(`${name}-unheard`);
  const [deadLetters] = await client.createTopic(`${name}~bench+dlq`);
  await deadLetters.createSubscription(`${name}~bench+dlq`);
  await topic.createSubscription(`${name}~bench`, {
    deadLetterPolicy: { deadLetterTopic: deadLetters.name, maxDeliveryAttempts: MAX_DELIVERIES },
  });
  topic.setPublishOptions({ batching: BATCHING, messageOrdering: true });
  unheard.setPublishOptions({ batching: BATCHING, messageOrdering: true });
  const subscription = client.subscription(`${name}~bench`, {
    flowControl: { maxMessages: FLOW_CONTROL, allowExcessMessages: false },
    batching: { maxMilliseconds: 10 },
    closeOptions: {
      behavior: SubscriptionCloseBehaviors.NackImmediately,
      timeout: Duration.from({ seconds: 10 }),
    },
  });
  const receiver = new Receiver();
  const attributes = (): Record<string, string> => {
    if (!cloudEvents) return { 'content-type': 'application/json' };
    const id = randomUUID();
    return {
      'ce-id': id,
      'ce-type': TYPE,
      'ce-specversion': '1.0',
      'ce-source': 'bench',
      'ce-time': new Date().toISOString(),
      'content-type': 'application/json',
      'ce-correlationid': id,
    };
  };
  const publisher = (to: typeof topic) => (t: Tick) =>
    to.publishMessage({ data: Buffer.from(JSON.stringify(t)), attributes: attributes() });
  const publish = { subscribed: publisher(topic), unsubscribed: publisher(unheard) };
  try {
    return await phases(messages, receiver, publish, async () => {
      subscription.on('error', (error: unknown) => console.error('raw subscription error', error));
      subscription.on('message', (message: Message) => {
        receiver.receive(JSON.parse(message.data.toString('utf8')) as Tick);
        message.ack();
      });
    });
  } finally {
    await subscription.close();
    await client.close();
  }
}

/** Deletes the bench's project: pstest keeps every topic, and the broker lab saves them across restarts. */
async function deleteProject(projectId: string): Promise<void> {
  const client = new PubSub({
    projectId,
    apiEndpoint: emulatorHost,
    emulatorMode: true,
    universeDomain: 'googleapis.com',
  });
  const [subscriptions] = await client.getSubscriptions();
  await Promise.all(subscriptions.map((subscription) => subscription.delete()));
  const [topics] = await client.getTopics();
  await Promise.all(topics.map((topic) => topic.delete()));
  await client.close();
}

function summary(name: string, rounds: Round[]) {
  return {
    run: name,
    ...throughputColumns(rounds),
    'publish cpu µs/msg': medianOf(rounds, (r) => r.publishCpu),
    'consume cpu µs/msg': medianOf(rounds, (r) => r.consumeCpu),
  };
}

export async function run(args: readonly string[]): Promise<void> {
  const messages = Number(args[0] ?? 4_000);
  const roundCount = Number(args[1] ?? 3);
  const variants = [
    { name: 'raw @google-cloud/pubsub', round: (p: string, n: number) => rawRound(p, n, false) },
    { name: 'raw + CloudEvents attributes', round: (p: string, n: number) => rawRound(p, n, true) },
    { name: 'Omnibus bus', round: omnibusRound },
  ].map((variant) => ({ ...variant, rounds: [] as Round[] }));
  /** Each round in a project of its own, deleted after it, so pstest does not slow down as a run goes on. */
  const isolated = async (round: (projectId: string) => Promise<Round>): Promise<Round> => {
    const projectId = `omnibus-bench-${randomBytes(4).toString('hex')}`;
    try {
      return await round(projectId);
    } finally {
      await deleteProject(projectId);
    }
  };
  for (const variant of variants) await isolated((p) => variant.round(p, 1_000)); // warm-up: JIT, channels
  // The variants take turns being first: whoever runs later in a round meets a busier emulator and heap.
  for (let round = 0; round < roundCount; round++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(i + round) % variants.length]!;
      variant.rounds.push(await isolated((p) => variant.round(p, messages)));
    }
  }
  const rows = variants.map((variant) => summary(variant.name, variant.rounds));
  printTable(
    `Pub/Sub (pstest at ${emulatorHost}): ${messages.toLocaleString('en-US')} messages of 256 bytes, ` +
      `batches of ${BATCHING.maxMessages} / ${BATCHING.maxMilliseconds} ms, ${WINDOW} in flight, flow control ` +
      `${FLOW_CONTROL}; publish: ${PUBLISH_ONLY.toLocaleString('en-US')} to a topic without subscribers; ` +
      `median of ${roundCount} rounds. ` +
      `Latency: publish-to-handle, loaded = during the e2e run, p50/p99 = ${UNLOADED} sent one at a time`,
    rows,
  );
  const ratios = (baseline: number) => throughputRatios(rows, 2, baseline);
  console.log(
    `Omnibus vs raw @google-cloud/pubsub: ${ratios(0)}; vs raw with the same attributes: ${ratios(1)} (target >= 90%).\n` +
      'pstest hands each streaming pull about one message per 10 ms delivery tick (the client opens 5 streams),\n' +
      "so consume and e2e throughput are the emulator's ceiling for both; the cpu columns show the client cost.",
  );
}
