/**
 * `npm run bench -- nats [messages] [rounds]`: Omnibus on NATS JetStream beside the bare JetStream client
 * (`@nats-io/jetstream`) with the same settings, in one run, against the server at OMNIBUS_NATS_URL
 * (default the lab's):
 * - durability: a file-storage stream per run, publishes awaiting JetStream's ack, `Nats-Msg-Id` set;
 * - batching: 256 publishes awaiting their ack at once (one message per publish, as `bus.publish` does);
 * - consuming: a durable pull consumer with explicit acks, 64 messages in flight, one ack per message.
 * Both sides connect with the same client options (`noAsyncTraces`, as the transport does), and the
 * Omnibus consumer's connection is made before the round, like the raw one's.
 * Payload: 256 bytes of JSON. Omnibus is the whole framework path: `bus.publish` (envelope, JSON,
 * CloudEvents headers) and a decorated handler behind the default pipeline. Raw is the JetStream client
 * with `JSON.stringify`/`JSON.parse` and its own `consume()`, twice: a bare message (only `Nats-Msg-Id`),
 * and a message with the same CloudEvents headers Omnibus writes.
 *
 * Phases per round, each on a fresh stream: publish N (no consumer) → consume those N → publish and
 * consume N at once (end-to-end) → 1,000 messages one at a time (latency unloaded). Rounds alternate raw
 * and Omnibus; the table shows the median round.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { ConsumerMessages } from '@nats-io/jetstream';
import { AckPolicy, DeliverPolicy, RetentionPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { Bus, Handle, Subscriber, defineEvent } from '@omnibus/core';
import { NatsNames, NatsTransport } from '@omnibus/nats';
import type { BrokerRound as Round, Tick } from './harness.js';
import {
  Receiver,
  summarize as summary,
  findProcess,
  measureBrokerRound,
  processCpuMicros,
  throughputRatios,
  publishWindowed as publishAll,
} from './harness.js';
import { printTable } from './table.js';

const brokerPid = findProcess(/nats-server/);
const brokerCpuMicros = (): number | undefined => processCpuMicros(brokerPid);

const url = process.env.OMNIBUS_NATS_URL ?? 'nats://127.0.0.1:4222';
const WINDOW = 256;
const PREFETCH = 64;
const UNLOADED = 1_000;
const TYPE = 'bench.Ticked';
const names = new NatsNames('omnibus');

function shared(messages: number, receiver: Receiver) {
  return { messages, receiver, window: WINDOW, unloaded: UNLOADED, brokerCpuMicros };
}

async function omnibusRound(messages: number, streams: string[]): Promise<Round> {
  const channel = `bench-omnibus-${randomUUID()}`;
  const group = 'bench';
  streams.push(names.channelStream(channel));
  const Ticked = defineEvent<Tick>({ type: TYPE, channel });
  const receiver = new Receiver();
  @Subscriber({ group, concurrency: PREFETCH })
  class TickHandler {
    @Handle(Ticked)
    tick(event: Tick): void {
      receiver.receive(event);
    }
  }
  const publisher = new Bus({ transport: new NatsTransport({ servers: url }), serviceName: 'bench' });
  // Connected before the round, as the raw side's consuming connection is: the consume phase times
  // consuming, not the TCP and JetStream handshake.
  const consuming = new NatsTransport({ servers: url });
  await consuming.connect();
  const consumer = new Bus({
    transport: consuming,
    serviceName: 'bench',
    handlers: [TickHandler],
  });
  await publisher.start();
  await publisher.transport.provision({
    channels: [{ name: channel }],
    subscriptions: [{ channel, group, types: [TYPE] }],
  });
  try {
    return await measureBrokerRound({
      ...shared(messages, receiver),
      publishAll: (count, window) => publishAll(count, window, (t) => publisher.publish(Ticked, t)),
      startConsuming: () => consumer.start(),
    });
  } finally {
    await consumer.stop();
    await publisher.stop();
  }
}

function cloudEventsHeaders(id: string) {
  const h = natsHeaders();
  h.set('ce-id', id);
  h.set('ce-type', TYPE);
  h.set('ce-specversion', '1.0');
  h.set('ce-source', 'bench');
  h.set('ce-time', new Date().toISOString());
  h.set('ce-correlationid', id);
  h.set('content-type', 'application/json');
  return h;
}

async function rawRound(messages: number, streams: string[], withHeaders: boolean): Promise<Round> {
  const stream = `bench_raw_${randomUUID()}`;
  const subject = `bench.raw.${randomUUID()}`;
  streams.push(stream);
  // The client options the transport connects with (`noAsyncTraces`: no stack capture per request), so
  // the rows differ by what Omnibus does, not by how the client is set up.
  const publishing: NatsConnection = await connect({ servers: url, noAsyncTraces: true });
  const consuming: NatsConnection = await connect({ servers: url, noAsyncTraces: true });
  const jsm = await jetstreamManager(publishing);
  // The same stream and consumer settings the transport provisions for a channel and a group.
  await jsm.streams.add({ name: stream, subjects: [subject], retention: RetentionPolicy.Interest });
  await jsm.consumers.add(stream, {
    durable_name: 'bench',
    filter_subject: subject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    max_deliver: -1,
    max_ack_pending: 1_000,
  });
  const js = jetstream(publishing);
  const receiver = new Receiver();
  let messagesIn: ConsumerMessages | undefined;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const publish = async (t: Tick): Promise<void> => {
    const msgID = randomUUID();
    await js.publish(subject, encoder.encode(JSON.stringify(t)), {
      msgID,
      ...(withHeaders ? { headers: cloudEventsHeaders(msgID) } : {}),
    });
  };
  try {
    return await measureBrokerRound({
      ...shared(messages, receiver),
      publishAll: (count, window) => publishAll(count, window, publish),
      startConsuming: async () => {
        const consumer = await jetstream(consuming).consumers.get(stream, 'bench');
        messagesIn = await consumer.consume({
          max_messages: PREFETCH,
          callback: (m) => {
            receiver.receive(JSON.parse(decoder.decode(m.data)) as Tick);
            m.ack();
          },
        });
      },
    });
  } finally {
    await messagesIn?.close();
    await consuming.close();
    await publishing.close();
  }
}

async function deleteAll(streams: readonly string[]): Promise<void> {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  for (const stream of streams) await jsm.streams.delete(stream).catch(() => false);
  await nc.close();
}

export async function run(args: readonly string[]): Promise<void> {
  const messages = Number(args[0] ?? 20_000);
  const roundCount = Number(args[1] ?? 3);
  const streams: string[] = [];
  const raw: Round[] = [];
  const rawWithHeaders: Round[] = [];
  const omnibus: Round[] = [];
  try {
    await rawRound(2_000, streams, false); // warm-up: server, JIT, connections
    await omnibusRound(2_000, streams);
    for (let round = 0; round < roundCount; round++) {
      raw.push(await rawRound(messages, streams, false));
      rawWithHeaders.push(await rawRound(messages, streams, true));
      omnibus.push(await omnibusRound(messages, streams));
    }
  } finally {
    await deleteAll(streams);
  }
  const rows = [
    summary('raw JetStream, bare message', raw),
    summary('raw JetStream, CloudEvents headers', rawWithHeaders),
    summary('Omnibus bus', omnibus),
  ];
  printTable(
    `NATS JetStream (${url}): ${messages.toLocaleString('en-US')} messages of 256 bytes, file storage, ` +
      `publish acks, ${WINDOW} in flight, ${PREFETCH} unacked per consumer; median of ${roundCount} rounds. ` +
      `Latency: publish-to-handle, loaded = during the e2e run, p50/p99 = ${UNLOADED} sent one at a time`,
    rows,
  );
  const ratio = throughputRatios(rows, 2, 0).replace('e2e', 'end-to-end');
  console.log(`Omnibus vs raw JetStream, same CloudEvents headers: ${throughputRatios(rows, 2, 1)}.`);
  console.log(`nats: bus vs bare raw client: ${ratio}`);
}
