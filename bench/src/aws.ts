/**
 * `npm run bench -- aws [messages] [rounds]`: Omnibus on SQS/SNS beside the raw AWS SDK v3 clients with
 * the same settings, in one run, against the endpoint at OMNIBUS_AWS_ENDPOINT (default the lab's moto,
 * http://127.0.0.1:4566):
 * - topology: an SNS topic, one SQS queue subscribed with raw message delivery (and its dead-letter
 *   queue), made the same way for both (by the transport's provisioning; not measured);
 * - durability: a publish counts when SNS answered it (SNS and SQS store before they answer);
 * - batching: `PublishBatch` of up to 10, 256 messages in flight. Omnibus gets there from one
 *   `bus.publish` per message (its publish lane gathers concurrent publishes into batches); raw sends
 *   batches of 10 itself;
 * - consuming: prefetch 64 = 7 long-polling pollers of up to 10 messages (5 s wait, 30 s visibility),
 *   acks by `DeleteMessageBatch`.
 * Payload: 256 bytes of JSON. Omnibus is the whole framework path: `bus.publish` (envelope, JSON,
 * CloudEvents attributes) and a decorated handler behind the default pipeline. Raw runs twice: a bare
 * message (body only), and a message with the same 7 CloudEvents attributes Omnibus writes. CPU per
 * message of this process and of the broker's (moto's, when it runs here) is measured over the
 * end-to-end phase: it is steadier than msg/s on a busy machine.
 *
 * Phases per round, each on fresh topics and queues: publish N (no consumer) → consume those N → publish
 * and consume N at once (end-to-end, latency under load) → 200 messages one at a time (latency
 * unloaded). Rounds alternate raw and Omnibus; the table shows the median round.
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { MessageAttributeValue } from '@aws-sdk/client-sns';
import {
  CreateTopicCommand,
  DeleteTopicCommand,
  ListTopicsCommand,
  PublishBatchCommand,
  SNSClient,
} from '@aws-sdk/client-sns';
import {
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { Bus, Handle, Subscriber, defineEvent } from '@omnibus/core';
import type { SqsSnsTransportOptions } from '@omnibus/aws';
import { AwsNames, SqsSnsTransport } from '@omnibus/aws';
import type { BrokerRound as Round, Tick } from './harness.js';
import {
  Receiver,
  summarize as summary,
  findProcess,
  measureBrokerRound,
  processCpuMicros,
  throughputRatios,
  tick,
} from './harness.js';
import { printTable } from './table.js';

/** The local moto process, to read its CPU time; undefined elsewhere. */
const brokerPid = findProcess(/moto/);
const brokerCpuMicros = (): number | undefined => processCpuMicros(brokerPid);

const endpoint = process.env.OMNIBUS_AWS_ENDPOINT ?? 'http://127.0.0.1:4566';
const region = process.env.AWS_REGION ?? 'us-east-1';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const prefix = `bench-${randomBytes(3).toString('hex')}-`;
const WINDOW = 256;
const BATCH = 10;
const PREFETCH = 64;
const POLLERS = Math.ceil(PREFETCH / BATCH);
const WAIT_SECONDS = 5;
const VISIBILITY_SECONDS = 30;
const UNLOADED = 200;
const TYPE = 'bench.Ticked';
const transportOptions: SqsSnsTransportOptions = {
  region,
  endpoint,
  credentials,
  namePrefix: prefix,
  waitTimeSeconds: WAIT_SECONDS,
  visibilityTimeoutSeconds: VISIBILITY_SECONDS,
};
const clientConfig = { region, endpoint, credentials };

/** A way to publish: sends `count` ticks with at most `window` in flight; returns the seconds taken. */
type PublishAll = (count: number, window: number) => Promise<number>;

/** What every round here passes to `measureBrokerRound` besides how it publishes and consumes. */
function shared(messages: number, receiver: Receiver) {
  return { messages, receiver, window: WINDOW, unloaded: UNLOADED, brokerCpuMicros };
}

/** A fresh channel with one subscriber group, provisioned as the transport does. */
async function topology(): Promise<{ channel: string; group: string; topicArn: string; queueUrl: string }> {
  const channel = `ch-${randomUUID().slice(0, 8)}`;
  const group = 'bench';
  const transport = new SqsSnsTransport(transportOptions);
  try {
    await transport.provision({
      channels: [{ name: channel }],
      subscriptions: [{ channel, group, types: [TYPE] }],
    });
    const { url } = await transport.queueOf({ kind: 'subscription', channel, group });
    const sns = new SNSClient(clientConfig);
    const { TopicArn } = await sns.send(
      new CreateTopicCommand({ Name: new AwsNames(prefix).topic(channel, false) }),
    );
    sns.destroy();
    return { channel, group, topicArn: TopicArn!, queueUrl: url };
  } finally {
    await transport.close();
  }
}

async function omnibusRound(messages: number): Promise<Round> {
  const { channel, group } = await topology();
  const Ticked = defineEvent<Tick>({ type: TYPE, channel });
  const receiver = new Receiver();
  @Subscriber({ group, concurrency: PREFETCH })
  class TickHandler {
    @Handle(Ticked)
    tick(event: Tick): void {
      receiver.receive(event);
    }
  }
  const publisher = new Bus({ transport: new SqsSnsTransport(transportOptions), serviceName: 'bench' });
  const consumer = new Bus({
    transport: new SqsSnsTransport(transportOptions),
    serviceName: 'bench',
    handlers: [TickHandler],
  });
  await publisher.start();
  const publishAll: PublishAll = async (count, window) => {
    const started = performance.now();
    const inFlight = new Set<Promise<void>>();
    for (let seq = 0; seq < count; seq++) {
      const sent = publisher.publish(Ticked, tick(seq)).finally(() => inFlight.delete(sent));
      inFlight.add(sent);
      if (inFlight.size >= window) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    return (performance.now() - started) / 1000;
  };
  try {
    return await measureBrokerRound({
      ...shared(messages, receiver),
      publishAll,
      startConsuming: () => consumer.start(),
    });
  } finally {
    await consumer.stop();
    await publisher.stop();
  }
}

/** The CloudEvents attributes `bus.publish` writes for an event, for the raw run that carries them too. */
function cloudEventsAttributes(): Record<string, MessageAttributeValue> {
  const id = randomUUID();
  const string = (value: string): MessageAttributeValue => ({ DataType: 'String', StringValue: value });
  return {
    'ce-id': string(id),
    'ce-type': string(TYPE),
    'ce-source': string('bench'),
    'ce-specversion': string('1.0'),
    'content-type': string('application/json'),
    'ce-time': string(new Date().toISOString()),
    'ce-correlationid': string(id),
  };
}

async function rawRound(messages: number, withAttributes: boolean): Promise<Round> {
  const { topicArn, queueUrl } = await topology();
  const sns = new SNSClient(clientConfig);
  const sqs = new SQSClient(clientConfig);
  const receiver = new Receiver();
  const stop = new AbortController();
  const pollers: Promise<void>[] = [];

  // Batches of up to 10, `window` messages in flight: what a raw client does to publish fast.
  const publishAll: PublishAll = async (count, window) => {
    const started = performance.now();
    const batchSize = Math.min(BATCH, window);
    const inFlight = new Set<Promise<void>>();
    for (let seq = 0; seq < count; seq += batchSize) {
      const entries = Array.from({ length: Math.min(batchSize, count - seq) }, (_, i) => ({
        Id: String(i),
        Message: JSON.stringify(tick(seq + i)),
        ...(withAttributes ? { MessageAttributes: cloudEventsAttributes() } : {}),
      }));
      const sent = sns
        .send(new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: entries }))
        .then((result) => {
          if ((result.Failed ?? []).length > 0) throw new Error(`${result.Failed!.length} entries failed`);
        })
        .finally(() => inFlight.delete(sent));
      inFlight.add(sent);
      if (inFlight.size * batchSize >= window) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    return (performance.now() - started) / 1000;
  };

  const poll = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      let received;
      try {
        received = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: BATCH,
            WaitTimeSeconds: WAIT_SECONDS,
            VisibilityTimeout: VISIBILITY_SECONDS,
            ...(withAttributes ? { MessageAttributeNames: ['All'] } : {}),
          }),
          { abortSignal: stop.signal },
        );
      } catch (error) {
        if (stop.signal.aborted) return;
        throw error;
      }
      const batch = received.Messages ?? [];
      if (batch.length === 0) continue;
      for (const message of batch) receiver.receive(JSON.parse(message.Body!) as Tick);
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle! })),
        }),
      );
    }
  };

  try {
    return await measureBrokerRound({
      ...shared(messages, receiver),
      publishAll,
      startConsuming: async () => {
        for (let i = 0; i < POLLERS; i++) pollers.push(poll());
      },
    });
  } finally {
    stop.abort();
    await Promise.allSettled(pollers);
    sns.destroy();
    sqs.destroy();
  }
}

/** Deletes every queue and topic this run made. */
async function deleteAll(): Promise<void> {
  const sqs = new SQSClient(clientConfig);
  const sns = new SNSClient(clientConfig);
  try {
    const { QueueUrls: urls = [] } = await sqs.send(
      new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 1000 }),
    );
    for (const url of urls) await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    let next: string | undefined;
    do {
      const page = await sns.send(new ListTopicsCommand({ NextToken: next }));
      for (const { TopicArn: arn } of page.Topics ?? []) {
        if (arn?.slice(arn.lastIndexOf(':') + 1).startsWith(prefix)) {
          await sns.send(new DeleteTopicCommand({ TopicArn: arn }));
        }
      }
      next = page.NextToken;
    } while (next !== undefined);
  } finally {
    sqs.destroy();
    sns.destroy();
  }
}

export async function run(args: readonly string[]): Promise<void> {
  const messages = Number(args[0] ?? 1_000);
  const roundCount = Number(args[1] ?? 3);
  const raw: Round[] = [];
  const rawWithAttributes: Round[] = [];
  const omnibus: Round[] = [];
  try {
    await rawRound(500, false); // warm-up: endpoint, JIT, connections
    await omnibusRound(500);
    for (let round = 0; round < roundCount; round++) {
      raw.push(await rawRound(messages, false));
      rawWithAttributes.push(await rawRound(messages, true));
      omnibus.push(await omnibusRound(messages));
    }
  } finally {
    await deleteAll();
  }
  const rows = [
    summary('raw AWS SDK, bare message', raw),
    summary('raw AWS SDK, CloudEvents attributes', rawWithAttributes),
    summary('Omnibus bus', omnibus),
  ];
  printTable(
    `SQS/SNS (${endpoint}${brokerPid === undefined ? '' : ', moto'}): ${messages.toLocaleString('en-US')} messages of 256 bytes, ` +
      `SNS topic → SQS queue (raw delivery), PublishBatch of ${BATCH}, ${WINDOW} in flight, ${POLLERS} pollers ` +
      `(prefetch ${PREFETCH}), DeleteMessageBatch; median of ${roundCount} rounds. ` +
      `Latency: publish-to-handle, loaded = during the e2e run, p50/p99 = ${UNLOADED} sent one at a time`,
    rows,
  );
  const ratios = (baseline: number) => throughputRatios(rows, 2, baseline);
  console.log(`Omnibus vs raw AWS SDK, bare message: ${ratios(0)} (target >= 90%).`);
  console.log(`Omnibus vs raw AWS SDK, same CloudEvents attributes: ${ratios(1)}.`);
}
