import type { SNSClient } from '@aws-sdk/client-sns';
import { PublishBatchCommand } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { toTransportError } from './aws-errors.js';
import type { AttributeValue } from './aws-codec.js';

/** Where a publish goes: an SNS topic (a channel) or an SQS queue (a command queue, a dead-letter queue). */
export type PublishTarget =
  | { readonly kind: 'topic'; readonly name: string; readonly arn: string; readonly fifo: boolean }
  | { readonly kind: 'queue'; readonly name: string; readonly url: string; readonly fifo: boolean };

/** One message of a batch call. */
export interface BatchEntry {
  /** Unique within the batch. */
  readonly id: string;
  readonly body: string;
  readonly attributes: Record<string, AttributeValue>;
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
}

/** An entry the broker did not accept, as the batch response reports it. */
export interface EntryFailure {
  readonly id: string;
  readonly code: string;
  readonly message: string;
  /** The request itself was wrong (retrying cannot help), as opposed to a passing failure. */
  readonly senderFault: boolean;
}

/** Sends one batch (at most 10 entries, 256 KiB) and reports the entries that failed; throws when the call fails. */
export interface BatchSender {
  send(target: PublishTarget, entries: readonly BatchEntry[]): Promise<EntryFailure[]>;
}

/** `PublishBatch` to a topic, `SendMessageBatch` to a queue. */
export class SdkBatchSender implements BatchSender {
  constructor(
    private readonly sqs: SQSClient,
    private readonly sns: SNSClient,
  ) {}

  async send(target: PublishTarget, entries: readonly BatchEntry[]): Promise<EntryFailure[]> {
    let failed: { Id?: string; Code?: string; Message?: string; SenderFault?: boolean }[];
    try {
      if (target.kind === 'topic') {
        const result = await this.sns.send(
          new PublishBatchCommand({
            TopicArn: target.arn,
            PublishBatchRequestEntries: entries.map((entry) => ({
              Id: entry.id,
              Message: entry.body,
              MessageAttributes: entry.attributes,
              ...fifoFields(entry),
            })),
          }),
        );
        failed = result.Failed ?? [];
      } else {
        const result = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: target.url,
            Entries: entries.map((entry) => ({
              Id: entry.id,
              MessageBody: entry.body,
              MessageAttributes: entry.attributes,
              ...fifoFields(entry),
            })),
          }),
        );
        failed = result.Failed ?? [];
      }
    } catch (error) {
      throw toTransportError(error, `publishing ${entries.length} message(s) to ${target.name}`);
    }
    return failed.map((f) => ({
      id: f.Id ?? '',
      code: f.Code ?? 'UNKNOWN',
      message: f.Message ?? '',
      senderFault: f.SenderFault === true,
    }));
  }
}

function fifoFields(entry: BatchEntry): { MessageGroupId?: string; MessageDeduplicationId?: string } {
  return {
    ...(entry.groupId === undefined ? {} : { MessageGroupId: entry.groupId }),
    ...(entry.deduplicationId === undefined ? {} : { MessageDeduplicationId: entry.deduplicationId }),
  };
}
