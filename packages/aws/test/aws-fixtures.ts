import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SqsSnsTransportOptions } from '../src/index.js';
import { SqsSnsTransport } from '../src/index.js';

/** moto from `scripts/brokers up aws`, or any SQS/SNS endpoint in OMNIBUS_AWS_ENDPOINT. */
export const endpoint = process.env.OMNIBUS_AWS_ENDPOINT ?? 'http://127.0.0.1:4566';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

/**
 * Test settings: a 3 s visibility timeout, so a crashed consumer's messages come back within seconds
 * (the heartbeat keeps live ones hidden); 1 s long polls, because moto decides which FIFO message groups
 * are busy once per ReceiveMessage call, so a group freed during a 20 s poll would wait out the poll (AWS
 * answers at once); and a prefix that marks test queues.
 */
export const testOptions: SqsSnsTransportOptions = {
  region: 'us-east-1',
  endpoint,
  credentials,
  namePrefix: 'omnibus-test-',
  visibilityTimeoutSeconds: 3,
  waitTimeSeconds: 1,
};

export async function connectedTransport(options: SqsSnsTransportOptions = {}): Promise<SqsSnsTransport> {
  const transport = new SqsSnsTransport({ ...testOptions, ...options });
  await transport.connect();
  return transport;
}

/** The integration gate's probe: SQS and SNS answer. */
export async function probe(): Promise<void> {
  const transport = new SqsSnsTransport(testOptions);
  try {
    await transport.health().then((report) => {
      if (report.status !== 'up')
        throw new Error(`aws at ${endpoint} is ${report.status}: ${JSON.stringify(report.details)}`);
    });
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
