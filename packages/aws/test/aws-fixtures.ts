import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ListTopicsCommandOutput } from '@aws-sdk/client-sns';
import { DeleteTopicCommand, ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import type { ListQueuesCommandOutput } from '@aws-sdk/client-sqs';
import { DeleteQueueCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SqsSnsTransportOptions } from '../src/index.js';
import { SqsSnsTransport } from '../src/index.js';

/** moto from `scripts/brokers up aws`, or any SQS/SNS endpoint in OMNIBUS_AWS_ENDPOINT. */
export const endpoint = process.env.OMNIBUS_AWS_ENDPOINT ?? 'http://127.0.0.1:4566';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

/**
 * Every topic and queue of one test run starts with this, so the run can delete what it made
 * ({@link deleteTestResources}); a child process of the run is given it in OMNIBUS_AWS_TEST_PREFIX.
 */
export const testPrefix = process.env.OMNIBUS_AWS_TEST_PREFIX ?? `ot${randomBytes(3).toString('hex')}-`;

/**
 * Test settings. A 10 s visibility timeout: short enough that a crashed consumer's messages come back
 * soon, long enough that an overloaded moto (seconds per request on a busy machine) does not let a live
 * message's visibility lapse before the heartbeat extends it. 1 s long polls, because moto decides which
 * FIFO message groups are busy once per ReceiveMessage call, so a group freed during a 20 s poll would
 * wait out the poll (AWS answers at once); they also make closing a consumer quick. A child process gets
 * another visibility timeout through OMNIBUS_AWS_TEST_VISIBILITY.
 */
export const testOptions: SqsSnsTransportOptions = {
  region: 'us-east-1',
  endpoint,
  credentials,
  namePrefix: testPrefix,
  visibilityTimeoutSeconds: Number(process.env.OMNIBUS_AWS_TEST_VISIBILITY ?? 10),
  waitTimeSeconds: 1,
};

/** A transport not yet connected: it connects on first use. */
export function unconnectedTransport(options: SqsSnsTransportOptions = {}): SqsSnsTransport {
  return new SqsSnsTransport({ ...testOptions, ...options });
}

export async function connectedTransport(options: SqsSnsTransportOptions = {}): Promise<SqsSnsTransport> {
  const transport = new SqsSnsTransport({ ...testOptions, ...options });
  await transport.connect();
  return transport;
}

/** The integration gate's probe: SQS and SNS answer. */
export async function probe(): Promise<void> {
  const transport = new SqsSnsTransport(testOptions);
  try {
    const report = await transport.health();
    if (report.status !== 'up') {
      throw new Error(`aws at ${endpoint} is ${report.status}: ${JSON.stringify(report.details)}`);
    }
  } finally {
    await transport.close();
  }
}

/** A plain SDK client, for foreign producers and for looking at what is on the wire. */
export function rawSqs(): SQSClient {
  return new SQSClient({ region: 'us-east-1', endpoint, credentials });
}

export function rawSns(): SNSClient {
  return new SNSClient({ region: 'us-east-1', endpoint, credentials });
}

/** Deletes every queue and topic this run made (the broker keeps them across restarts otherwise). */
export async function deleteTestResources(): Promise<void> {
  const sqs = rawSqs();
  const sns = rawSns();
  try {
    let next: string | undefined;
    const queues: string[] = [];
    do {
      const page: ListQueuesCommandOutput = await sqs.send(
        new ListQueuesCommand({ QueueNamePrefix: testPrefix, MaxResults: 1000, NextToken: next }),
      );
      queues.push(...(page.QueueUrls ?? []));
      next = page.NextToken;
    } while (next !== undefined);
    const topics: string[] = [];
    do {
      const page: ListTopicsCommandOutput = await sns.send(new ListTopicsCommand({ NextToken: next }));
      for (const { TopicArn: arn } of page.Topics ?? []) {
        if (arn?.slice(arn.lastIndexOf(':') + 1).startsWith(testPrefix)) topics.push(arn);
      }
      next = page.NextToken;
    } while (next !== undefined);
    for (let i = 0; i < queues.length; i += 20) {
      await Promise.all(
        queues.slice(i, i + 20).map((url) => sqs.send(new DeleteQueueCommand({ QueueUrl: url }))),
      );
    }
    await Promise.all(topics.map((arn) => sns.send(new DeleteTopicCommand({ TopicArn: arn }))));
  } finally {
    sqs.destroy();
    sns.destroy();
  }
}

const brokersScript = fileURLToPath(new URL('../../../../scripts/brokers', import.meta.url));

/** `scripts/brokers restart aws`: moto's state (queues, messages in flight, receipts) is pickled across it. */
export async function restartMoto(): Promise<void> {
  try {
    await promisify(execFile)(brokersScript, ['restart', 'aws'], { timeout: 120_000 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`scripts/brokers restart aws failed:\n${stdout ?? ''}${stderr ?? ''}`, { cause: error });
  }
}
