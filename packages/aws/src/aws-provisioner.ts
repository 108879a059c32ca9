import type { SNSClient } from '@aws-sdk/client-sns';
import { CreateTopicCommand, ListTopicsCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import type { Destination, QueueSource, Source, SubscriptionSource } from '@omnibus/core';
import { describeSource, TransportError } from '@omnibus/core';
import type { SubscriptionTopology, Topology } from '@omnibus/core/transport';
import { isNotFound, toTransportError } from './aws-errors.js';
import { FIFO_SUFFIX } from './aws-names.js';
import type { AwsNames } from './aws-names.js';
import type { ResolvedOptions } from './aws-options.js';

export interface TopicRef {
  readonly name: string;
  readonly arn: string;
  readonly fifo: boolean;
}

export interface QueueRef {
  readonly name: string;
  readonly url: string;
  readonly fifo: boolean;
}

/** Dead letters are kept 14 days, SQS's longest retention; the queues themselves keep SQS's default 4 days. */
const DEAD_LETTER_RETENTION_SECONDS = '1209600';
const QUEUE_EXISTS = new Set(['QueueNameExists', 'QueueAlreadyExists']);

/**
 * Creates the topics, queues, dead-letter queues and subscriptions a topology needs, idempotently, and
 * finds them again by name (cached) for publishing and consuming. A queue or topic made by another
 * process is found too, whether it is standard or FIFO.
 */
export class AwsProvisioner {
  readonly #topics = new Map<string, Promise<TopicRef>>();
  readonly #queues = new Map<string, Promise<QueueRef>>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly sns: SNSClient,
    private readonly names: AwsNames,
    private readonly options: ResolvedOptions,
  ) {}

  /**
   * Channels → SNS topics (FIFO when ordered or when the transport is FIFO); command queues and subscriber
   * groups → SQS queues, each with a dead-letter queue and a redrive policy of `maxDeliveries` receives;
   * a group's queue lets its topic send to it and is subscribed with raw message delivery.
   */
  async provision(topology: Topology): Promise<void> {
    const ordered = new Map<string, boolean>();
    for (const channel of topology.channels ?? []) {
      ordered.set(channel.name, (ordered.get(channel.name) ?? false) || channel.ordered === true);
    }
    // Validate every name before creating anything, so a bad topology creates nothing.
    for (const [name, isOrdered] of ordered) this.names.topic(name, this.options.fifo || isOrdered);
    for (const queue of topology.queues ?? [])
      this.names.commandQueue(queue.name, this.options.fifo || queue.ordered === true);
    for (const s of topology.subscriptions ?? []) {
      this.names.subscriptionQueue(s.channel, s.group, this.options.fifo || ordered.get(s.channel) === true);
    }

    await Promise.all(
      [...ordered].map(([name, isOrdered]) => this.#createTopic(name, this.options.fifo || isOrdered)),
    );
    await Promise.all([
      ...(topology.queues ?? []).map((queue) =>
        this.#createQueue(
          this.names.commandQueue(queue.name, this.options.fifo || queue.ordered === true),
          queue.maxDeliveries,
          undefined,
        ),
      ),
      ...(topology.subscriptions ?? []).map((subscription) => this.#subscribe(subscription)),
    ]);
  }

  /** The topic of a channel: provisioned here, or found by name. `NOT_PROVISIONED` when there is none. */
  topic(channel: string): Promise<TopicRef> {
    let found = this.#topics.get(channel);
    if (found === undefined) {
      found = this.#findTopic(channel);
      this.#cache(this.#topics, channel, found);
    }
    return found;
  }

  /** The queue a destination or source reads from or writes to. `NOT_PROVISIONED` when there is none. */
  queue(target: Source | Extract<Destination, { kind: 'queue' }>): Promise<QueueRef> {
    switch (target.kind) {
      case 'queue':
        return this.#queueNamed(
          (fifo) => this.names.commandQueue(target.queue, fifo),
          describeSource(target),
        );
      case 'subscription':
        return this.#queueNamed(
          (fifo) => this.names.subscriptionQueue(target.channel, target.group, fifo),
          describeSource(target),
        );
      case 'deadLetters':
        return this.deadLetterQueue(target.of);
    }
  }

  async deadLetterQueue(of: SubscriptionSource | QueueSource): Promise<QueueRef> {
    const queue = await this.queue(of);
    const name = this.names.deadLetterQueue(queue.name);
    return this.#queueNamed(() => name, `${describeSource(of)}.dlq`, queue.fifo);
  }

  /** The `maxReceiveCount` of a queue's redrive policy, or undefined when it has none. */
  async maxReceiveCount(queue: QueueRef): Promise<number | undefined> {
    try {
      const result = await this.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['RedrivePolicy'] }),
      );
      const policy = result.Attributes?.RedrivePolicy;
      if (policy === undefined) return undefined;
      const count = Number((JSON.parse(policy) as { maxReceiveCount?: unknown }).maxReceiveCount);
      return Number.isInteger(count) ? count : undefined;
    } catch (error) {
      throw toTransportError(error, `reading the redrive policy of ${queue.name}`);
    }
  }

  async #createTopic(channel: string, fifo: boolean): Promise<TopicRef> {
    const name = this.names.topic(channel, fifo);
    try {
      const result = await this.sns.send(
        new CreateTopicCommand({ Name: name, ...(fifo ? { Attributes: { FifoTopic: 'true' } } : {}) }),
      );
      const ref: TopicRef = { name, arn: result.TopicArn!, fifo };
      this.#topics.set(channel, Promise.resolve(ref));
      return ref;
    } catch (error) {
      throw toTransportError(error, `creating topic ${name}`);
    }
  }

  async #subscribe(subscription: SubscriptionTopology): Promise<void> {
    let topic: TopicRef;
    try {
      topic = await this.topic(subscription.channel);
    } catch (error) {
      // A group may be provisioned before anyone provisions its channel: the channel is made standard
      // (or FIFO on a FIFO transport), as the publisher's own provisioning would make it.
      if ((error as TransportError).code !== 'NOT_PROVISIONED') throw error;
      topic = await this.#createTopic(subscription.channel, this.options.fifo);
    }
    const name = this.names.subscriptionQueue(subscription.channel, subscription.group, topic.fifo);
    const queueArn = await this.#createQueue(name, subscription.maxDeliveries, topic.arn);
    try {
      await this.sns.send(
        new SubscribeCommand({
          TopicArn: topic.arn,
          Protocol: 'sqs',
          Endpoint: queueArn,
          Attributes: { RawMessageDelivery: 'true' },
          ReturnSubscriptionArn: true,
        }),
      );
    } catch (error) {
      throw toTransportError(error, `subscribing ${name} to ${topic.name}`);
    }
  }

  /** Creates (or updates) a queue and its dead-letter queue; returns the queue's ARN. */
  async #createQueue(
    name: string,
    maxDeliveries: number | undefined,
    topicArn: string | undefined,
  ): Promise<string> {
    const fifo = name.endsWith(FIFO_SUFFIX);
    const fifoAttributes: Record<string, string> = fifo
      ? { FifoQueue: 'true', DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' }
      : {};
    const deadLetterName = this.names.deadLetterQueue(name);
    const deadLetterUrl = await this.#ensureQueue(deadLetterName, {
      ...fifoAttributes,
      MessageRetentionPeriod: DEAD_LETTER_RETENTION_SECONDS,
    });
    const deadLetterArn = await this.#arnOf(deadLetterName, deadLetterUrl);
    // Same account and region as the dead-letter queue: the ARN is known before the queue exists.
    const queueArn = `${deadLetterArn.slice(0, deadLetterArn.lastIndexOf(':') + 1)}${name}`;
    const maxReceiveCount = maxDeliveries ?? this.options.maxDeliveries;
    if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1_000) {
      throw new TransportError(
        `maxDeliveries of ${name} must be an integer from 1 to 1000, got ${maxReceiveCount}`,
        {
          code: 'INVALID_TOPOLOGY',
          retriable: false,
        },
      );
    }
    const attributes: Record<string, string> = {
      ...fifoAttributes,
      VisibilityTimeout: String(this.options.visibilityTimeoutSeconds),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterArn, maxReceiveCount }),
    };
    if (topicArn !== undefined) attributes.Policy = topicDeliveryPolicy(queueArn, topicArn);
    const url = await this.#ensureQueue(name, attributes);
    this.#queues.set(name, Promise.resolve({ name, url, fifo }));
    this.#queues.set(deadLetterName, Promise.resolve({ name: deadLetterName, url: deadLetterUrl, fifo }));
    return queueArn;
  }

  /** CreateQueue, and when the queue exists with other attributes, SetQueueAttributes: provisioning converges. */
  async #ensureQueue(name: string, attributes: Record<string, string>): Promise<string> {
    try {
      const created = await this.sqs.send(
        new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
      );
      return created.QueueUrl!;
    } catch (error) {
      if (!QUEUE_EXISTS.has((error as { name?: string }).name ?? ''))
        throw toTransportError(error, `creating queue ${name}`);
    }
    try {
      const { QueueUrl: url } = await this.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      const { FifoQueue: _immutable, ...settable } = attributes;
      await this.sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: settable }));
      return url!;
    } catch (error) {
      throw toTransportError(error, `updating queue ${name}`);
    }
  }

  async #arnOf(name: string, url: string): Promise<string> {
    try {
      const result = await this.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
      );
      return result.Attributes!.QueueArn!;
    } catch (error) {
      throw toTransportError(error, `reading the ARN of ${name}`);
    }
  }

  async #findTopic(channel: string): Promise<TopicRef> {
    const wanted = new Map([
      [this.names.topic(channel, false), false],
      [this.names.topic(channel, true), true],
    ]);
    let found: TopicRef | undefined;
    let next: string | undefined;
    try {
      do {
        const page = await this.sns.send(new ListTopicsCommand({ NextToken: next }));
        for (const { TopicArn: arn } of page.Topics ?? []) {
          const name = arn?.slice(arn.lastIndexOf(':') + 1);
          const fifo = name === undefined ? undefined : wanted.get(name);
          // Both flavours may exist (the channel became ordered later): the transport's own kind wins.
          if (fifo !== undefined && (found === undefined || fifo === this.options.fifo))
            found = { name: name!, arn: arn!, fifo };
        }
        next = page.NextToken;
      } while (next !== undefined);
    } catch (error) {
      throw toTransportError(error, `looking up the topic of channel ${channel}`);
    }
    if (found === undefined) {
      throw new TransportError(`channel ${channel} is not provisioned`, {
        code: 'NOT_PROVISIONED',
        retriable: false,
      });
    }
    return found;
  }

  /** Looks a queue up under the name `nameOf(fifo)` gives, the transport's own kind first. */
  #queueNamed(nameOf: (fifo: boolean) => string, what: string, only?: boolean): Promise<QueueRef> {
    const order = only !== undefined ? [only] : [this.options.fifo, !this.options.fifo];
    const cached = order.map((fifo) => this.#queues.get(nameOf(fifo))).find((entry) => entry !== undefined);
    if (cached !== undefined) return cached;
    const lookup = (async (): Promise<QueueRef> => {
      for (const fifo of order) {
        const name = nameOf(fifo);
        try {
          const { QueueUrl: url } = await this.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
          return { name, url: url!, fifo };
        } catch (error) {
          if (!isNotFound(error)) throw toTransportError(error, `looking up ${what}`);
        }
      }
      throw new TransportError(`${what} is not provisioned`, { code: 'NOT_PROVISIONED', retriable: false });
    })();
    void lookup.then(
      (ref) => this.#cache(this.#queues, ref.name, lookup),
      () => undefined,
    );
    return lookup;
  }

  #cache<T>(map: Map<string, Promise<T>>, key: string, value: Promise<T>): void {
    map.set(key, value);
    value.catch(() => {
      if (map.get(key) === value) map.delete(key);
    });
  }
}

/** Lets exactly this topic send to the queue: what SNS needs to deliver to an SQS subscriber. */
function topicDeliveryPolicy(queueArn: string, topicArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'omnibus-topic-delivery',
        Effect: 'Allow',
        Principal: { Service: 'sns.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
      },
    ],
  });
}
