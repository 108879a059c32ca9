/**
 * Request/reply on SQS for `npm run bench -- rpc sqs`: the bus's transport with bench/src/aws.ts's
 * settings and bare @aws-sdk/client-sqs doing the same pattern. Every queue of a run starts with one
 * prefix and is deleted at its end.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { SqsSnsTransport } from '@omnibus/aws';

const endpoint = process.env.OMNIBUS_AWS_ENDPOINT ?? 'http://127.0.0.1:4566';
const region = process.env.AWS_REGION ?? 'us-east-1';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const clientConfig = { region, endpoint, credentials };
/** Every queue of this run starts with it (the transport's `namePrefix` too). */
const prefix = `bench-rpc-${randomBytes(3).toString('hex')}-`;
const WAIT_SECONDS = 5;
const VISIBILITY_SECONDS = 30;
const BATCH = 10;
/** The responder's pollers: as the transport's consumer at concurrency 64, ceil(64 / 10). */
const POLLERS = Math.ceil(64 / BATCH);

/** As bench/src/aws.ts: long polls of 5 s, visibility 30 s. */
export const sqsTransport = (): SqsSnsTransport =>
  new SqsSnsTransport({
    ...clientConfig,
    namePrefix: prefix,
    waitTimeSeconds: WAIT_SECONDS,
    visibilityTimeoutSeconds: VISIBILITY_SECONDS,
  });

const string = (value: string): MessageAttributeValue => ({ DataType: 'String', StringValue: value });

/**
 * Bare SQS: a request queue and a reply queue of this requester (standard queues). A request is one
 * `SendMessage` with the reply queue's URL and a correlation id as message attributes. The responder
 * runs 7 long-polling pollers (up to 10 messages, 5 s wait, 30 s visibility), answers each received
 * batch with `SendMessageBatch` to the reply queues named, and only then deletes the requests with
 * `DeleteMessageBatch` (acks after handling). The requester long-polls its reply queue with one poller,
 * as the transport does, resolves the callers, then deletes the batch (`DeleteMessageBatch`, not awaited
 * before the next poll: the transport does not wait either).
 */
export async function rawSqs() {
  const sqs = new SQSClient(clientConfig);
  const id = randomUUID();
  const create = async (name: string) =>
    (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: `${prefix}raw-${name}-${id}`,
          Attributes: { VisibilityTimeout: String(VISIBILITY_SECONDS) },
        }),
      )
    ).QueueUrl!;
  const requestQueue = await create('requests');
  const replyQueue = await create('replies');
  const stop = new AbortController();

  /** Long-polls `queue` until stopped, handing each non-empty batch to `handle`. */
  const poll = async (queue: string, handle: (messages: Message[]) => Promise<void>): Promise<void> => {
    while (!stop.signal.aborted) {
      let received;
      try {
        received = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queue,
            MaxNumberOfMessages: BATCH,
            WaitTimeSeconds: WAIT_SECONDS,
            VisibilityTimeout: VISIBILITY_SECONDS,
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: stop.signal },
        );
      } catch (error) {
        if (stop.signal.aborted) return;
        throw error;
      }
      const messages = received.Messages ?? [];
      if (messages.length > 0) await handle(messages);
    }
  };
  const deleteBatch = (queue: string, messages: readonly Message[]) =>
    sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queue,
        Entries: messages.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle! })),
      }),
    );

  const answer = async (requests: Message[]): Promise<void> => {
    const byReplyQueue = new Map<string, Message[]>();
    for (const request of requests) {
      const to = request.MessageAttributes!['reply-to']!.StringValue!;
      let list = byReplyQueue.get(to);
      if (list === undefined) byReplyQueue.set(to, (list = []));
      list.push(request);
    }
    await Promise.all(
      [...byReplyQueue].map(async ([to, list]) => {
        const sent = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: to,
            Entries: list.map((request, i) => ({
              Id: String(i),
              MessageBody: request.Body!,
              MessageAttributes: {
                'correlation-id': string(request.MessageAttributes!['correlation-id']!.StringValue!),
              },
            })),
          }),
        );
        if ((sent.Failed ?? []).length > 0) throw new Error(`${sent.Failed!.length} replies failed`);
      }),
    );
    await deleteBatch(requestQueue, requests);
  };
  const pending = new Map<string, () => void>();
  const receiveReplies = async (replies: Message[]): Promise<void> => {
    for (const reply of replies) {
      const correlation = reply.MessageAttributes!['correlation-id']!.StringValue!;
      pending.get(correlation)?.();
      pending.delete(correlation);
    }
    void deleteBatch(replyQueue, replies).catch(() => undefined);
  };
  const pollers = [
    ...Array.from({ length: POLLERS }, () => poll(requestQueue, answer)),
    poll(replyQueue, receiveReplies),
  ];
  return {
    ask: async (n: number) => {
      const correlation = randomUUID();
      const replied = new Promise<void>((resolve) => pending.set(correlation, resolve));
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: requestQueue,
          MessageBody: JSON.stringify({ n }),
          MessageAttributes: { 'reply-to': string(replyQueue), 'correlation-id': string(correlation) },
        }),
      );
      await replied;
    },
    close: async () => {
      stop.abort();
      await Promise.allSettled(pollers);
      sqs.destroy();
    },
  };
}

/** Deletes every queue of this run (the bus's query, dead-letter and reply queues, the raw ones). */
export async function deleteSqsRun(): Promise<void> {
  const sqs = new SQSClient(clientConfig);
  try {
    const { QueueUrls: urls = [] } = await sqs.send(
      new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 1000 }),
    );
    for (const url of urls) await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
  } finally {
    sqs.destroy();
  }
}
