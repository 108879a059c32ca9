import {
  CreateTopicCommand,
  DeleteTopicCommand,
  PublishCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { describeIntegration, uniqueName } from '@omnibus/core/testing';
import { expect } from 'chai';
import { brokerEnv } from '../src/index.js';
import { unreachable } from './unreachable.js';

// Proves the lab's SQS and SNS (moto), with the AWS SDK v3 alone: no Omnibus code runs here.
const endpoint = brokerEnv.awsEndpoint;
const config = {
  endpoint,
  region: 'us-east-1',
  // moto accepts any credentials; the SDK only needs some, so a developer's own are never used.
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  maxAttempts: 1,
};
const sqs = new SQSClient(config);
const sns = new SNSClient(config);

async function probe(): Promise<void> {
  try {
    await sqs.send(new ListQueuesCommand({}), { abortSignal: AbortSignal.timeout(3_000) });
  } catch (error) {
    throw unreachable(`SQS at ${endpoint}`, error);
  }
}

/** Long-polls `queueUrl` until one message arrives or `timeoutMs` passes, then deletes it. */
async function receiveOne(queueUrl: string, timeoutMs = 15_000): Promise<Message> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
    );
    const message = Messages?.[0];
    if (message) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
      return message;
    }
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for a message on ${queueUrl}`);
}

describeIntegration(`lab: SQS and SNS at ${endpoint}`, probe, () => {
  it('sends one message to an SQS queue and receives it', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('lab-sqs') }));
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello from the lab' }));

      const message = await receiveOne(QueueUrl!);

      expect(message.Body).to.equal('hello from the lab');
    } finally {
      await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    }
  });

  it('publishes one message to an SNS topic and receives it on a subscribed SQS queue', async () => {
    const name = uniqueName('lab-sns');
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
    try {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
      );
      await sns.send(
        new SubscribeCommand({
          TopicArn,
          Protocol: 'sqs',
          Endpoint: Attributes!.QueueArn,
          Attributes: { RawMessageDelivery: 'true' },
        }),
      );
      await sns.send(new PublishCommand({ TopicArn, Message: 'hello from the lab' }));

      const message = await receiveOne(QueueUrl!);

      expect(message.Body).to.equal('hello from the lab');
    } finally {
      await sns.send(new DeleteTopicCommand({ TopicArn }));
      await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    }
  });
});
