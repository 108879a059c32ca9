import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import type { Envelope, Logger } from '@omnibus/core';
import { TransportError, exponential, toOmnibusError, uuidv7 } from '@omnibus/core';
import type { ReplyAddress, ReplySink } from '@omnibus/core/transport';
import { abortableDelay } from '@omnibus/core/transport';
import { decodeMessage } from './aws-codec.js';
import { toTransportError } from './aws-errors.js';
import type { Publisher } from './publisher.js';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** Reply queues whose URL is remembered for sending; older ones are looked up again. */
const REMEMBERED_URLS = 1_000;

export interface AwsRepliesDeps {
  readonly sqs: SQSClient;
  readonly publisher: Publisher;
  readonly namePrefix: string;
  readonly waitTimeSeconds: number;
  readonly logger: Logger;
}

/**
 * Reply addresses on SQS: a standard queue per asking bus instance, `<prefix>omnibus-reply-<uuid>`,
 * long-polled, each message deleted as it is received; the address is the queue's name. `close` deletes
 * the queue. SQS cannot expire a queue, so one left by a crashed instance stays until removed: it is
 * tagged `omnibus:reply` and `omnibus:started-at` (ISO time) so a sweep can find old ones, and its
 * messages expire after 5 minutes (`MessageRetentionPeriod`).
 */
export class AwsReplies {
  readonly #deps: AwsRepliesDeps;
  readonly #form: RegExp;
  readonly #urls = new Map<string, Promise<string>>();

  constructor(deps: AwsRepliesDeps) {
    this.#deps = deps;
    this.#form = new RegExp(`^${deps.namePrefix}omnibus-reply-${UUID}$`);
  }

  async open(sink: ReplySink): Promise<ReplyAddress> {
    const { sqs, logger, waitTimeSeconds } = this.#deps;
    const name = `${this.#deps.namePrefix}omnibus-reply-${uuidv7()}`;
    let url: string;
    try {
      const created = await sqs.send(
        new CreateQueueCommand({
          QueueName: name,
          Attributes: { MessageRetentionPeriod: '300' },
          tags: { 'omnibus:reply': 'true', 'omnibus:started-at': new Date().toISOString() },
        }),
      );
      url = created.QueueUrl!;
    } catch (error) {
      throw toTransportError(error, `creating reply queue ${name}`);
    }
    const abort = new AbortController();
    const backoff = exponential({ initialMs: 100, maxMs: 5_000 });
    const poll = async (): Promise<void> => {
      for (let failures = 0; !abort.signal.aborted;) {
        try {
          const result = await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: url,
              MaxNumberOfMessages: 10,
              WaitTimeSeconds: waitTimeSeconds,
              MessageAttributeNames: ['All'],
            }),
            { abortSignal: abort.signal },
          );
          failures = 0;
          const messages = result.Messages ?? [];
          if (messages.length === 0) continue;
          // Deleted at once: a reply is wanted by one waiting caller, now, or not at all.
          void sqs
            .send(
              new DeleteMessageBatchCommand({
                QueueUrl: url,
                Entries: messages.map((message, index) => ({
                  Id: String(index),
                  ReceiptHandle: message.ReceiptHandle!,
                })),
              }),
            )
            .catch(() => undefined);
          for (const message of messages) {
            sink(decodeMessage({ body: message.Body, attributes: message.MessageAttributes }));
          }
        } catch (error) {
          if (abort.signal.aborted) return;
          logger.warn({ queue: name, error: toOmnibusError(error).message }, 'reply poll failed');
          await abortableDelay(backoff(++failures), abort.signal).catch(() => undefined);
        }
      }
    };
    const polling = poll();
    return {
      address: name,
      close: async () => {
        if (abort.signal.aborted) return;
        abort.abort();
        await polling;
        await sqs
          .send(new DeleteQueueCommand({ QueueUrl: url }))
          .catch((error: unknown) =>
            logger.warn({ queue: name, error: toOmnibusError(error).message }, 'reply queue not deleted'),
          );
      },
    };
  }

  async publish(address: string, reply: Envelope): Promise<void> {
    if (typeof address !== 'string' || !this.#form.test(address)) {
      throw new TransportError(`${JSON.stringify(address)} is not an SQS reply address of this prefix`, {
        code: 'INVALID_REPLY_ADDRESS',
        retriable: false,
      });
    }
    const url = await this.#urlOf(address);
    await this.#deps.publisher.publish({ kind: 'queue', name: address, url, fifo: false }, [reply]);
  }

  #urlOf(name: string): Promise<string> {
    let url = this.#urls.get(name);
    if (url === undefined) {
      if (this.#urls.size >= REMEMBERED_URLS) this.#urls.delete(this.#urls.keys().next().value!);
      url = this.#deps.sqs.send(new GetQueueUrlCommand({ QueueName: name })).then(
        (found) => found.QueueUrl!,
        (error: unknown) => {
          this.#urls.delete(name);
          const failure = toTransportError(error, `finding reply queue ${name}`);
          throw failure.code === 'NOT_PROVISIONED'
            ? new TransportError(`reply queue ${name} is gone`, {
                code: 'REPLY_ADDRESS_GONE',
                retriable: false,
              })
            : failure;
        },
      );
      this.#urls.set(name, url);
    }
    return url;
  }
}
