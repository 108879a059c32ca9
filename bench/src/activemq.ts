/**
 * `npm run bench -- activemq [messages] [rounds]`: Omnibus on ActiveMQ Artemis (AMQP 1.0) beside bare rhea
 * with the same settings, in one run, against the broker at OMNIBUS_AMQP10_URL (default the lab's):
 * - durability: durable messages, publishes awaiting the broker's `accepted`;
 * - batching: 256 publishes awaiting their settlement at once (one message per publish, as `bus.publish`);
 * - consuming: the same durable multicast queue (a subscriber group's), link credit 64, one `accepted`
 *   per message.
 * Payload: 256 bytes of JSON. Omnibus is the whole framework path: `bus.publish` (envelope, JSON,
 * CloudEvents application properties) and a decorated handler behind the default pipeline. Raw is rhea
 * with `JSON.stringify`/`JSON.parse`, twice: a bare message, and one with the same CloudEvents properties.
 *
 * Phases per round, each on a fresh address and queue: publish N (no consumer) → consume those N →
 * publish and consume N at once (end-to-end) → 1,000 messages one at a time (latency unloaded). The table
 * shows the median round.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import rhea from 'rhea';
import type { EventContext } from 'rhea';
import { Bus, Handle, Subscriber, defineEvent } from '@omnibus/core';
import { Amqp10Names, Amqp10Transport } from '@omnibus/amqp10';
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
import { rawConnection, settledSender } from './rhea-client.js';
import { printTable } from './table.js';

const brokerPid = findProcess(/org\.apache\.activemq\.artemis\.boot\.Artemis/);
const brokerCpuMicros = (): number | undefined => processCpuMicros(brokerPid);

const url = process.env.OMNIBUS_AMQP10_URL ?? 'amqp://omnibus:omnibus@127.0.0.1:5673';
const WINDOW = 256;
const PREFETCH = 64;
const UNLOADED = 1_000;
const TYPE = 'bench.Ticked';
const names = new Amqp10Names('');

function shared(messages: number, receiver: Receiver) {
  return { messages, receiver, window: WINDOW, unloaded: UNLOADED, brokerCpuMicros };
}

async function omnibusRound(messages: number): Promise<Round> {
  const channel = `bench-omnibus-${randomUUID()}`;
  const group = 'bench';
  const Ticked = defineEvent<Tick>({ type: TYPE, channel });
  const receiver = new Receiver();
  @Subscriber({ group, concurrency: PREFETCH })
  class TickHandler {
    @Handle(Ticked)
    tick(event: Tick): void {
      receiver.receive(event);
    }
  }
  const publisher = new Bus({ transport: new Amqp10Transport({ url }), serviceName: 'bench' });
  const consumer = new Bus({
    transport: new Amqp10Transport({ url }),
    serviceName: 'bench',
    handlers: [TickHandler],
  });
  await publisher.start();
  await publisher.transport.provision({ channels: [{ name: channel }], subscriptions: [{ channel, group }] });
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

function cloudEventsProperties(id: string): Record<string, string> {
  return {
    'cloudEvents:id': id,
    'cloudEvents:type': TYPE,
    'cloudEvents:specversion': '1.0',
    'cloudEvents:source': 'bench',
    'cloudEvents:time': new Date().toISOString(),
  };
}

async function rawRound(messages: number, withHeaders: boolean): Promise<Round> {
  const channel = `bench-raw-${randomUUID()}`;
  // The same address and durable group queue the transport provisions for a channel and a group.
  const provisioning = new Amqp10Transport({ url });
  await provisioning.provision({
    channels: [{ name: channel }],
    subscriptions: [{ channel, group: 'bench' }],
  });
  await provisioning.close();
  const publishing = await rawConnection(url);
  const consuming = await rawConnection(url);
  const send = await settledSender(publishing, names.channel(channel).address, 'topic');
  const receiver = new Receiver();
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const publish = (t: Tick): Promise<void> => {
    const id = randomUUID();
    return send({
      message_id: id,
      durable: true,
      content_type: 'application/json',
      ...(withHeaders ? { application_properties: cloudEventsProperties(id) } : {}),
      body: rhea.message.data_section(Buffer.from(encoder.encode(JSON.stringify(t)))) as unknown,
    });
  };
  try {
    return await measureBrokerRound({
      ...shared(messages, receiver),
      publishAll: (count, window) => publishAll(count, window, publish),
      startConsuming: () => {
        const link = consuming.open_receiver({
          source: { address: names.subscription(channel, 'bench').address, capabilities: ['topic'] },
          credit_window: PREFETCH,
          autoaccept: false,
        });
        link.on('message', (context: EventContext) => {
          const body = context.message!.body as { content: Buffer };
          receiver.receive(JSON.parse(decoder.decode(body.content)) as Tick);
          context.delivery!.accept();
        });
        return new Promise<void>((resolve) => link.once('receiver_open', () => resolve()));
      },
    });
  } finally {
    consuming.close();
    publishing.close();
  }
}

export async function run(args: readonly string[]): Promise<void> {
  const messages = Number(args[0] ?? 20_000);
  const roundCount = Number(args[1] ?? 3);
  const raw: Round[] = [];
  const rawWithHeaders: Round[] = [];
  const omnibus: Round[] = [];
  await rawRound(2_000, false); // warm-up: broker, JIT, connections
  await omnibusRound(2_000);
  for (let round = 0; round < roundCount; round++) {
    raw.push(await rawRound(messages, false));
    rawWithHeaders.push(await rawRound(messages, true));
    omnibus.push(await omnibusRound(messages));
  }
  const rows = [
    summary('raw rhea, bare message', raw),
    summary('raw rhea, CloudEvents properties', rawWithHeaders),
    summary('Omnibus bus', omnibus),
  ];
  printTable(
    `ActiveMQ Artemis (${url}): ${messages.toLocaleString('en-US')} durable messages of 256 bytes, ` +
      `publish settled, ${WINDOW} in flight, link credit ${PREFETCH}; median of ${roundCount} rounds. ` +
      `Latency: publish-to-handle, loaded = during the e2e run, p50/p99 = ${UNLOADED} sent one at a time`,
    rows,
  );
  const ratio = throughputRatios(rows, 2, 0).replace('e2e', 'end-to-end');
  console.log(`Omnibus vs raw rhea, same CloudEvents properties: ${throughputRatios(rows, 2, 1)}.`);
  console.log(`activemq: bus vs bare raw client: ${ratio}`);
}
