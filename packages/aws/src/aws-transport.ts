import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Destination, Envelope, Source, Transport } from '@omnibus/core';
import { ConfigurationError, exponential, retry, toOmnibusError } from '@omnibus/core';
import {
  TransportClosedError,
  type Capabilities,
  type Consumer,
  type ConsumeOptions,
  type DeliverySink,
  type HealthReport,
  type Topology,
  type ReplyAddress,
  type ReplySink,
  type ReplyTransport,
} from '@omnibus/core/transport';
import { toTransportError } from './aws-errors.js';
import type { QueueRef } from './aws-provisioner.js';
import { AwsProvisioner } from './aws-provisioner.js';
import { DeadLetterReads } from './fifo-ids.js';
import { MAX_MESSAGE_BYTES } from './aws-codec.js';
import type { PublishTarget } from './batch-sender.js';
import { SdkBatchSender } from './batch-sender.js';
import { Publisher } from './publisher.js';
import { AwsNames } from './aws-names.js';
import type { ResolvedOptions, SqsSnsTransportOptions } from './aws-options.js';
import { resolveOptions } from './aws-options.js';
import { AwsConsumer } from './aws-consumer.js';
import { AwsReplies } from './aws-replies.js';

/**
 * The Omnibus transport over Amazon SQS and SNS (AWS SDK v3).
 *
 * Topology: a channel is an SNS topic; each subscriber group is an SQS queue subscribed to it with raw
 * message delivery (and a queue policy letting that topic send); a command queue is an SQS queue; every
 * queue has a dead-letter queue `<queue>-dlq` with a redrive policy of `maxDeliveries` receives, so a
 * message that crashes its consumer every time still ends there. Ordered channels and queues (or all of
 * them, with `fifo: true`) are FIFO: message group = key, deduplication id = message id.
 *
 * Guarantees: at-least-once; per-key order on FIFO; `publish` resolves when SNS/SQS accepted every
 * message (they store them redundantly before answering); delayed retry through the visibility timeout
 * (at most 12 hours); messages of 256 KiB at most, body and attributes together.
 */
export class SqsSnsTransport implements Transport, ReplyTransport {
  readonly name = 'aws';
  readonly capabilities: Capabilities;
  readonly options: ResolvedOptions;
  readonly #sqs: SQSClient;
  readonly #sns: SNSClient;
  readonly #names: AwsNames;
  readonly #resources: AwsProvisioner;
  readonly #publisher: Publisher;
  readonly #deadLetterReads = new DeadLetterReads();
  readonly #consumers = new Set<AwsConsumer>();
  readonly #replies: AwsReplies;
  #closed: Promise<void> | undefined;

  constructor(options: SqsSnsTransportOptions = {}) {
    this.options = resolveOptions(options);
    const { region, endpoint, credentials } = this.options;
    const clientConfig = {
      ...(region === undefined ? {} : { region }),
      ...(endpoint === undefined ? {} : { endpoint }),
      ...(credentials === undefined ? {} : { credentials }),
      requestHandler: {
        // Long polls hold a socket for up to 20 s each: a large pool keeps them from starving publishes and acks.
        httpAgent: { keepAlive: true, maxSockets: 256 },
        httpsAgent: { keepAlive: true, maxSockets: 256 },
        connectionTimeout: 5_000,
        // A long poll is silent for up to waitTimeSeconds; a request silent much longer is a dead connection.
        requestTimeout: (this.options.waitTimeSeconds + 10) * 1_000,
      },
    };
    this.#sqs = new SQSClient(clientConfig);
    this.#sns = new SNSClient(clientConfig);
    this.#names = new AwsNames(this.options.namePrefix);
    this.#resources = new AwsProvisioner(this.#sqs, this.#sns, this.#names, this.options);
    this.#publisher = new Publisher(new SdkBatchSender(this.#sqs, this.#sns), this.#deadLetterReads);
    this.#replies = new AwsReplies({
      sqs: this.#sqs,
      publisher: this.#publisher,
      namePrefix: this.options.namePrefix,
      waitTimeSeconds: this.options.waitTimeSeconds,
      logger: this.options.logger,
    });
    this.capabilities = {
      // SQS and SNS store every message redundantly before they answer; nothing is lost to a restart.
      persistent: true,
      consumerGroups: true,
      // Per-key order on every channel or queue provisioned with `ordered: true` (they are FIFO).
      ordering: 'key',
      delayedRetry: true,
      nativeDeadLetter: true,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      // Every call is a fresh HTTPS request and pollers back off and go on, so an endpoint that goes away
      // and comes back (moto or LocalStack restarted, a network outage) is survived without reconnect logic.
      restartable: true,
    };
  }

  /** Checks that SQS and SNS answer (credentials, endpoint, region), retrying a few times with backoff. */
  async connect(signal?: AbortSignal): Promise<void> {
    this.#assertOpen();
    await retry(() => this.#ping(), {
      attempts: 5,
      backoff: exponential({ initialMs: 200, maxMs: 2_000 }),
      ...(signal === undefined ? {} : { signal }),
    });
  }

  async provision(topology: Topology): Promise<void> {
    this.#assertOpen();
    await this.#resources.provision(topology);
  }

  async publish(destination: Destination, messages: readonly Envelope[]): Promise<void> {
    this.#assertOpen();
    if (messages.length === 0) return;
    let target: PublishTarget;
    if (destination.kind === 'channel') {
      const topic = await this.#resources.topic(destination.channel);
      target = { kind: 'topic', name: topic.name, arn: topic.arn, fifo: topic.fifo };
    } else {
      const queue = await this.#resources.queue(destination);
      target = { kind: 'queue', name: queue.name, url: queue.url, fifo: queue.fifo };
    }
    await this.#publisher.publish(target, messages);
  }

  async consume(source: Source, sink: DeliverySink, options: ConsumeOptions): Promise<Consumer> {
    this.#assertOpen();
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new ConfigurationError('concurrency', 'must be a positive integer');
    }
    const queue = await this.#resources.queue(source);
    let redriveMaxReceiveCount: number | undefined;
    if (source.kind === 'deadLetters') {
      redriveMaxReceiveCount = await this.#resources
        .queue(source.of)
        .then((of) => this.#resources.maxReceiveCount(of))
        .catch(() => undefined);
    }
    const consumer = new AwsConsumer({
      sqs: this.#sqs,
      queue,
      source,
      sink,
      concurrency: options.concurrency,
      visibilityTimeoutSeconds: this.options.visibilityTimeoutSeconds,
      waitTimeSeconds: this.options.waitTimeSeconds,
      logger: this.options.logger,
      publisher: this.#publisher,
      deadLetterQueue:
        source.kind === 'deadLetters' ? undefined : () => this.#resources.deadLetterQueue(source),
      redriveMaxReceiveCount,
      ...(source.kind === 'deadLetters'
        ? { onReceived: (envelope: Envelope) => this.#deadLetterReads.noteRead(envelope.id) }
        : {}),
      onClosed: (closed) => this.#consumers.delete(closed),
    });
    this.#consumers.add(consumer);
    consumer.start();
    return consumer;
  }

  /** A reply queue of this instance (see `AwsReplies`). */
  async openReplies(sink: ReplySink): Promise<ReplyAddress> {
    this.#assertOpen();
    return this.#replies.open(sink);
  }

  async publishReply(address: string, reply: Envelope): Promise<void> {
    this.#assertOpen();
    await this.#replies.publish(address, reply);
  }

  /**
   * The SQS queue behind a source or command queue (its URL, name and kind), for tools and tests that
   * talk to SQS directly. `NOT_PROVISIONED` when it does not exist.
   */
  queueOf(target: Source | Extract<Destination, { kind: 'queue' }>): Promise<QueueRef> {
    return this.#resources.queue(target);
  }

  async health(): Promise<HealthReport> {
    if (this.#closed !== undefined) return { status: 'down', details: { reason: 'closed' } };
    try {
      await this.#ping();
      return {
        status: 'up',
        details: { consumers: this.#consumers.size, endpoint: this.options.endpoint ?? 'aws' },
      };
    } catch (error) {
      return { status: 'down', details: { error: toOmnibusError(error).message } };
    }
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.allSettled([...this.#consumers].map((consumer) => consumer.close()));
      this.#sqs.destroy();
      this.#sns.destroy();
    })();
    return this.#closed;
  }

  async #ping(): Promise<void> {
    try {
      await Promise.all([
        this.#sqs.send(
          new ListQueuesCommand({
            MaxResults: 1,
            ...(this.options.namePrefix ? { QueueNamePrefix: this.options.namePrefix } : {}),
          }),
        ),
        this.#sns.send(new ListTopicsCommand({})),
      ]);
    } catch (error) {
      throw toTransportError(error, 'reaching SQS and SNS');
    }
  }

  #assertOpen(): void {
    if (this.#closed !== undefined) {
      throw new TransportClosedError('aws');
    }
  }
}
