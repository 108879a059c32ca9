/**
 * `npm run bench -- rabbitmq [messages] [rounds]`: Omnibus on RabbitMQ beside raw amqplib with the same
 * settings, in one run, against the broker at OMNIBUS_RABBITMQ_URL (default the lab's):
 * - durability: durable topic exchange → durable quorum queue, persistent messages, publisher confirms;
 * - batching: 256 publishes awaiting confirmation at once (one message per publish, as `bus.publish` does);
 * - consuming: prefetch 64, one manual ack per message.
 * Payload: 256 bytes of JSON. Omnibus is the whole framework path: `bus.publish` (envelope, JSON,
 * CloudEvents headers) and a decorated handler behind the default pipeline. Raw is amqplib with
 * `JSON.stringify`/`JSON.parse`, twice: a bare message (content type and message id only), and a message
 * with the same CloudEvents headers Omnibus writes, which separates the cost of the framework's code
 * from the cost of carrying the metadata. CPU per message (client process, and the broker's process when
 * it runs on this machine) is measured over the end-to-end phase: it is steadier than msg/s on a busy
 * machine.
 *
 * Phases per round, each on fresh queues: publish N (no consumer) → consume those N → publish and consume
 * N at once (end-to-end, latency under load) → 1,000 messages one at a time (latency unloaded). Rounds
 * alternate raw and Omnibus; the table shows the median round.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';
import { connect } from 'amqplib';
import { Bus, Handle, Subscriber, defineEvent } from '@omnibus/core';
import { RabbitMqTransport } from '@omnibus/rabbitmq';
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

/** The local RabbitMQ (Erlang `beam`) process, to read its CPU time; undefined elsewhere. */
const brokerPid = findProcess(/beam\.smp/);
const brokerCpuMicros = (): number | undefined => processCpuMicros(brokerPid);

const url = process.env.OMNIBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const WINDOW = 256;
const PREFETCH = 64;
const UNLOADED = 1_000;
const TYPE = 'bench.Ticked';

/** What every round here passes to `measureBrokerRound` besides how it publishes and consumes. */
function shared(messages: number, receiver: Receiver) {
  return { messages, receiver, window: WINDOW, unloaded: UNLOADED, brokerCpuMicros };
}

async function omnibusRound(messages: number, names: string[]): Promise<Round> {
  const channel = `bench-omnibus-${randomUUID()}`;
  const group = 'bench';
  names.push(channel, `${channel}/${group}`);
  const Ticked = defineEvent<Tick>({ type: TYPE, channel });
  const receiver = new Receiver();
  @Subscriber({ group, concurrency: PREFETCH })
  class TickHandler {
    @Handle(Ticked)
    tick(event: Tick): void {
      receiver.receive(event);
    }
  }
  const publisher = new Bus({ transport: new RabbitMqTransport({ url }), serviceName: 'bench' });
  const consumer = new Bus({
    transport: new RabbitMqTransport({ url }),
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

/** The CloudEvents headers `bus.publish` writes for an event, for the raw run that carries them too. */
function cloudEventsHeaders(id: string): Record<string, string> {
  return {
    cloudEvents_id: id,
    cloudEvents_type: TYPE,
    cloudEvents_specversion: '1.0',
    cloudEvents_source: 'bench',
    cloudEvents_time: new Date().toISOString(),
    cloudEvents_correlationid: id,
  };
}

async function rawRound(messages: number, names: string[], withHeaders: boolean): Promise<Round> {
  const exchange = `bench-raw-${randomUUID()}`;
  const queue = `${exchange}/bench`;
  names.push(exchange, queue);
  const publishing: ChannelModel = await connect(url);
  const consuming: ChannelModel = await connect(url);
  const setup = await publishing.createChannel();
  await setup.assertExchange(exchange, 'topic', { durable: true });
  await setup.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await setup.bindQueue(queue, exchange, TYPE);
  await setup.close();
  const confirm: ConfirmChannel = await publishing.createConfirmChannel();
  confirm.setMaxListeners(0);
  const receiver = new Receiver();
  let consumerChannel: Channel | undefined;
  // As the transport does: write, wait for `drain` when the socket buffer is full, then for the confirm.
  const publish = async (t: Tick): Promise<void> => {
    let more = true;
    const messageId = randomUUID();
    const confirmed = new Promise<void>((resolve, reject) => {
      more = confirm.publish(
        exchange,
        TYPE,
        Buffer.from(JSON.stringify(t)),
        {
          persistent: true,
          mandatory: true,
          contentType: 'application/json',
          messageId,
          ...(withHeaders ? { headers: cloudEventsHeaders(messageId) } : {}),
        },
        (error: unknown) =>
          error ? reject(error instanceof Error ? error : new Error('nacked')) : resolve(),
      );
    });
    if (!more) await new Promise((drained) => confirm.once('drain', drained));
    await confirmed;
  };
  try {
    return await measureBrokerRound({
      ...shared(messages, receiver),
      publishAll: (count, window) => publishAll(count, window, publish),
      startConsuming: async () => {
        const channel = await consuming.createChannel();
        consumerChannel = channel;
        await channel.prefetch(PREFETCH);
        await channel.consume(
          queue,
          (message) => {
            if (message === null) return;
            receiver.receive(JSON.parse(message.content.toString('utf8')) as Tick);
            channel.ack(message);
          },
          { noAck: false },
        );
      },
    });
  } finally {
    await consumerChannel?.close();
    await consuming.close();
    await publishing.close();
  }
}

async function deleteAll(names: readonly string[]): Promise<void> {
  const connection = await connect(url);
  const channel = await connection.createChannel();
  for (const name of names) {
    await channel.deleteQueue(name);
    await channel.deleteQueue(`${name}.dlq`);
    await channel.deleteExchange(name);
  }
  await connection.close();
}

export async function run(args: readonly string[]): Promise<void> {
  const messages = Number(args[0] ?? 20_000);
  const roundCount = Number(args[1] ?? 3);
  const names: string[] = [];
  const raw: Round[] = [];
  const rawWithHeaders: Round[] = [];
  const omnibus: Round[] = [];
  try {
    await rawRound(2_000, names, false); // warm-up: broker, JIT, connections
    await omnibusRound(2_000, names);
    for (let round = 0; round < roundCount; round++) {
      raw.push(await rawRound(messages, names, false));
      rawWithHeaders.push(await rawRound(messages, names, true));
      omnibus.push(await omnibusRound(messages, names));
    }
  } finally {
    await deleteAll(names);
  }
  const rows = [
    summary('raw amqplib, bare message', raw),
    summary('raw amqplib, CloudEvents headers', rawWithHeaders),
    summary('Omnibus bus', omnibus),
  ];
  printTable(
    `RabbitMQ (${url.replace(/\/\/[^@]*@/, '//')}): ${messages.toLocaleString('en-US')} messages of 256 bytes, quorum queue, ` +
      `persistent, confirms, ${WINDOW} in flight, prefetch ${PREFETCH}; median of ${roundCount} rounds. ` +
      `Latency: publish-to-handle, loaded = during the e2e run, p50/p99 = ${UNLOADED} sent one at a time`,
    rows,
  );
  const ratios = (baseline: number) => throughputRatios(rows, 2, baseline);
  console.log(`Omnibus vs raw amqplib, same CloudEvents headers: ${ratios(1)}.`);
  // The line to compare across runs and brokers (target: 90% or more of the bare client on each).
  console.log(`rabbitmq: bus vs bare raw client: ${ratios(0).replace('e2e', 'end-to-end')}`);
}
