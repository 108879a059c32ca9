import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Envelope, Logger } from '@omnibus/core';
import { describeSource, exponential, readFailure, toOmnibusError } from '@omnibus/core';
import {
  type Consumer,
  type ConsumerSettings,
  type DeliveryOutcome,
  type DeliverySettler,
  type Failure,
  type Source,
  abortableDelay,
  withFailureHeaders,
} from '@omnibus/core/transport';
import { SinkCalls } from '@omnibus/core/transport';
import { createHash } from 'node:crypto';
import { isAbort, toTransportError } from './aws-errors.js';
import type { QueueRef } from './aws-provisioner.js';
import { decodeMessage } from './aws-codec.js';
import type { Publisher } from './publisher.js';
import { SettlementBatcher } from './settlement-batcher.js';
import { AwsDelivery } from './aws-delivery.js';

/** SQS refuses a visibility timeout reaching past 12 hours after the receive. */
const MAX_VISIBILITY_SECONDS = 43_200;
/** Kept clear of that limit, for clock skew and the request's own time. */
const VISIBILITY_MARGIN_SECONDS = 10;
/** ReceiveMessage returns at most 10 messages. */
const MAX_RECEIVE = 10;
const pollBackoff = exponential({ initialMs: 200, maxMs: 5_000 });

export interface AwsConsumerSettings extends ConsumerSettings<AwsConsumer> {
  readonly sqs: SQSClient;
  readonly queue: QueueRef;
  readonly visibilityTimeoutSeconds: number;
  readonly waitTimeSeconds: number;
  readonly logger: Logger;
  readonly publisher: Publisher;
  /** The dead-letter queue of `source`; undefined when `source` is a dead-letter queue itself. */
  readonly deadLetterQueue: (() => Promise<QueueRef>) | undefined;
  /**
   * For a dead-letter queue: the source queue's `maxReceiveCount`, to describe messages the redrive policy
   * moved there (they carry no failure headers of ours).
   */
  readonly redriveMaxReceiveCount?: number | undefined;
  /** Called with each envelope received (the transport notes dead letters read, for replays). */
  readonly onReceived?: (envelope: Envelope) => void;
}

/**
 * Consumes one SQS queue. Pollers (one per 10 of `concurrency`) long-poll for at most as many messages
 * as there are free slots, so no more than `concurrency` deliveries are unsettled at once. On a FIFO
 * queue, messages of one message group are handed out one after another (SQS itself withholds a group
 * while one of its messages is in flight). A heartbeat keeps unsettled messages hidden. `close` lets the
 * polls in flight return (so it takes up to `waitTimeSeconds`), waits for the sink calls, then releases
 * what is unsettled with `ChangeMessageVisibility 0`, so it is delivered again at once.
 */
export class AwsConsumer implements Consumer, DeliverySettler<AwsDelivery> {
  readonly source: Source;
  readonly #canDeadLetter: boolean;
  readonly #settings: AwsConsumerSettings;
  readonly #batcher: SettlementBatcher;
  readonly #abort = new AbortController();
  /** Received and not yet settled (or released): each holds one of the `concurrency` slots. */
  readonly #held = new Set<AwsDelivery>();
  /** Slots taken by polls in flight. */
  #reserved = 0;
  /** Received, waiting to be handed to the sink (while paused, or behind their FIFO group). */
  readonly #ready: AwsDelivery[] = [];
  /** FIFO message groups with a delivery in the sink; later deliveries of the group wait here, in order. */
  readonly #groups = new Map<string, AwsDelivery[]>();
  readonly #sinkCalls: SinkCalls;
  readonly #settlements = new Set<Promise<unknown>>();
  #wake: (() => void) | undefined;
  #woken: Promise<void> | undefined;
  #pollers: Promise<void>[] = [];
  #heartbeat: NodeJS.Timeout | undefined;
  #paused = false;
  #closing = false;
  #closed: Promise<void> | undefined;

  constructor(settings: AwsConsumerSettings) {
    this.#settings = settings;
    this.source = settings.source;
    this.#canDeadLetter = settings.deadLetterQueue !== undefined;
    // A sink that throws leaves its delivery unsettled (released on close); the consumer goes on.
    this.#sinkCalls = new SinkCalls((error) =>
      settings.logger.warn(
        { error: toOmnibusError(error).message },
        'sink threw; the delivery stays unsettled',
      ),
    );
    this.#batcher = new SettlementBatcher(settings.sqs, settings.queue.url, settings.queue.name);
  }

  start(): void {
    const pollers = Math.min(this.#settings.concurrency, Math.ceil(this.#settings.concurrency / MAX_RECEIVE));
    for (let i = 0; i < pollers; i++) this.#pollers.push(this.#poll());
    const visibilityMs = this.#settings.visibilityTimeoutSeconds * 1_000;
    this.#heartbeat = setInterval(() => this.#extendVisibility(), Math.max(250, visibilityMs / 3));
    this.#heartbeat.unref();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#signal();
    this.#pump();
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#signal();
    // Polls in flight are let finish (at most waitTimeSeconds) and what they bring is released below:
    // a poll cut short may have been answered on the server already, and those messages would stay
    // hidden for a whole visibility timeout. Past a grace period (a hung connection), they are cut.
    const grace = setTimeout(() => this.#abort.abort(), (this.#settings.waitTimeSeconds + 5) * 1_000);
    await Promise.all(this.#pollers);
    clearTimeout(grace);
    this.#abort.abort();
    await this.#sinkCalls.whenIdle();
    while (this.#settlements.size > 0) await Promise.allSettled([...this.#settlements]);
    const unsettled = [...this.#held].filter((delivery) => delivery.claim());
    await Promise.allSettled(unsettled.map((delivery) => this.#release(delivery)));
    clearInterval(this.#heartbeat);
    this.#settings.onClosed(this);
  }

  // ---- polling ----

  async #poll(): Promise<void> {
    const { sqs, queue } = this.#settings;
    let failures = 0;
    while (!this.#closing) {
      const wanted = await this.#reserve();
      if (wanted === 0) continue;
      let messages: Message[];
      try {
        const result = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queue.url,
            MaxNumberOfMessages: wanted,
            WaitTimeSeconds: this.#settings.waitTimeSeconds,
            VisibilityTimeout: this.#settings.visibilityTimeoutSeconds,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: ['ApproximateReceiveCount', 'MessageGroupId'],
          }),
          { abortSignal: this.#abort.signal },
        );
        messages = result.Messages ?? [];
        failures = 0;
      } catch (error) {
        this.#reserved -= wanted;
        if (this.#closing || isAbort(error)) break;
        failures++;
        const delayMs = pollBackoff(failures);
        // The poller never dies: a missing queue, a broker restart or bad credentials are logged and
        // tried again, with backoff, until the consumer is closed.
        this.#settings.logger.error(
          { queue: queue.name, error: toTransportError(error, 'receiving').message, retryInMs: delayMs },
          'SQS receive failed',
        );
        await abortableDelay(delayMs, this.#abort.signal).catch(() => undefined);
        continue;
      }
      this.#reserved -= wanted;
      for (const message of messages) this.#accept(message);
      this.#pump();
    }
  }

  /** Waits for free slots and takes up to 10 of them for one poll; 0 when the consumer is closing. */
  async #reserve(): Promise<number> {
    while (!this.#closing && (this.#paused || this.#free() === 0)) {
      this.#woken ??= new Promise<void>((resolve) => (this.#wake = resolve));
      await this.#woken;
    }
    if (this.#closing) return 0;
    const wanted = Math.min(MAX_RECEIVE, this.#free());
    this.#reserved += wanted;
    return wanted;
  }

  #free(): number {
    return Math.max(0, this.#settings.concurrency - this.#held.size - this.#reserved);
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    this.#woken = undefined;
    wake?.();
  }

  #accept(message: Message): void {
    let envelope: Envelope;
    try {
      envelope = decodeMessage({ body: message.Body, attributes: message.MessageAttributes });
    } catch (error) {
      // decodeMessage is total; this keeps the poller alive should that ever be untrue.
      envelope = { id: '', type: '', headers: {}, body: Buffer.from(message.Body ?? '', 'utf8') };
      this.#settings.logger.error(
        { error: toOmnibusError(error).message },
        'could not decode an SQS message',
      );
    }
    const attempt = Number(message.Attributes?.ApproximateReceiveCount ?? '1');
    if (this.#settings.source.kind === 'deadLetters') envelope = this.#describeRedriven(envelope, attempt);
    this.#settings.onReceived?.(envelope);
    const delivery = new AwsDelivery(
      this,
      this.#canDeadLetter,
      envelope,
      Number.isInteger(attempt) && attempt > 0 ? attempt : 1,
      message.ReceiptHandle!,
      message.MessageId ?? '',
      this.#settings.queue.fifo ? (message.Attributes?.MessageGroupId ?? '') : undefined,
      this.#settings.visibilityTimeoutSeconds,
    );
    this.#held.add(delivery);
    if (delivery.groupId !== undefined) {
      const waiting = this.#groups.get(delivery.groupId);
      if (waiting !== undefined) {
        waiting.push(delivery);
        return;
      }
      this.#groups.set(delivery.groupId, []);
    }
    this.#ready.push(delivery);
  }

  /**
   * A message the redrive policy moved here carries no failure headers of ours: give it some, so the
   * reason and origin are readable (`readFailure`) and a replay knows where it came from.
   */
  #describeRedriven(envelope: Envelope, attempt: number): Envelope {
    if (readFailure(envelope) !== undefined || this.#settings.source.kind !== 'deadLetters') return envelope;
    const deliveries = this.#settings.redriveMaxReceiveCount ?? Math.max(1, attempt - 1);
    return withFailureHeaders(
      envelope,
      {
        message: `not settled after ${deliveries} deliveries: moved by the SQS redrive policy (the consumer crashed, hung or kept releasing it)`,
        code: 'MAX_DELIVERIES_EXCEEDED',
        attempts: deliveries,
        failedAt: new Date(),
      },
      this.#settings.source.of,
    );
  }

  #pump(): void {
    while (!this.#paused && !this.#closing && this.#ready.length > 0) {
      this.#sinkCalls.call(this.#settings.sink, this.#ready.shift()!);
    }
  }

  // ---- settlement ----

  settle(delivery: AwsDelivery, outcome: DeliveryOutcome): Promise<void> {
    switch (outcome.kind) {
      case 'ack':
        return this.#ack(delivery);
      case 'retry':
        return this.#retry(delivery, outcome.delayMs);
      case 'deadLetter':
        return this.#deadLetter(delivery, outcome.failure);
    }
  }

  #ack(delivery: AwsDelivery): Promise<void> {
    return this.#settle(delivery, 'next', () => this.#batcher.delete(delivery.receiptHandle));
  }

  #retry(delivery: AwsDelivery, delayMs: number): Promise<void> {
    const elapsed = (Date.now() - delivery.receivedAt.getTime()) / 1_000;
    const allowed = Math.max(0, Math.floor(MAX_VISIBILITY_SECONDS - VISIBILITY_MARGIN_SECONDS - elapsed));
    const seconds = Math.min(Math.ceil(Math.max(0, delayMs) / 1_000), allowed);
    return this.#settle(delivery, 'release-group', () =>
      this.#batcher.changeVisibility(delivery.receiptHandle, seconds),
    );
  }

  #deadLetter(delivery: AwsDelivery, failure: Failure): Promise<void> {
    return this.#settle(delivery, 'next', async () => {
      const dlq = await this.#settings.deadLetterQueue!();
      const source = this.#settings.source as Extract<Source, { kind: 'queue' | 'subscription' }>;
      const target = { kind: 'queue', name: dlq.name, url: dlq.url, fifo: dlq.fifo } as const;
      // Unique per dead-lettering, stable across retries of this send: a message replayed and
      // dead-lettered again within 5 minutes is not dropped as a FIFO duplicate.
      const deduplicationId = createHash('sha256')
        .update(`${delivery.messageId}\u0000${delivery.attempt}\u0000${delivery.envelope.id}`)
        .digest('hex');
      const dead = withFailureHeaders(delivery.envelope, failure, source);
      try {
        await this.#settings.publisher.publish(target, [dead], () => deduplicationId);
      } catch (error) {
        if ((error as { code?: string }).code !== 'MESSAGE_TOO_LARGE' || failure.stack === undefined)
          throw error;
        // The stack trace made it too big: the message and code still say why.
        const { stack: _dropped, ...withoutStack } = failure;
        await this.#settings.publisher.publish(
          target,
          [withFailureHeaders(delivery.envelope, withoutStack, source)],
          () => deduplicationId,
        );
      }
      await this.#batcher.delete(delivery.receiptHandle);
    });
  }

  /**
   * Runs a claimed delivery's settlement; whatever the outcome, frees its slot and, on a FIFO queue, lets
   * the next message of its group go (`next`) or, after a retry or a failure, puts the group's waiting
   * messages back (`release-group`) so they come after the retried one, in order.
   */
  #settle(
    delivery: AwsDelivery,
    then: 'next' | 'release-group',
    operation: () => Promise<void>,
  ): Promise<void> {
    const settlement = operation().then(
      () => this.#settled(delivery, then),
      (error: unknown) => {
        // Not settled on the broker: no more heartbeats, so it comes back after the visibility timeout.
        this.#settled(delivery, 'release-group');
        throw toTransportError(
          error,
          `settling ${delivery.envelope.id || delivery.messageId} on ${this.#settings.queue.name}`,
        );
      },
    );
    this.#settlements.add(settlement);
    void settlement.finally(() => this.#settlements.delete(settlement)).catch(() => undefined);
    return settlement;
  }

  #settled(delivery: AwsDelivery, then: 'next' | 'release-group'): void {
    this.#held.delete(delivery);
    if (delivery.groupId !== undefined) {
      const waiting = this.#groups.get(delivery.groupId) ?? [];
      if (then === 'next' && waiting.length > 0 && !this.#closing) {
        this.#ready.push(waiting.shift()!);
      } else {
        this.#groups.delete(delivery.groupId);
        for (const next of waiting) if (next.claim()) void this.#release(next);
      }
    }
    this.#signal();
    this.#pump();
  }

  /** Makes a claimed, unsettled message visible again at once. */
  async #release(delivery: AwsDelivery): Promise<void> {
    try {
      await this.#batcher.changeVisibility(delivery.receiptHandle, 0);
    } catch (error) {
      this.#settings.logger.warn(
        { messageId: delivery.envelope.id, error: toOmnibusError(error).message },
        'could not release a message; it comes back after the visibility timeout',
      );
    } finally {
      this.#held.delete(delivery);
      this.#signal();
    }
  }

  /** The heartbeat: unsettled messages whose visibility runs low are hidden for another timeout. */
  #extendVisibility(): void {
    const timeout = this.#settings.visibilityTimeoutSeconds;
    const now = Date.now();
    for (const delivery of this.#held) {
      if (delivery.claimed || delivery.visibleUntil - now > (timeout * 1_000 * 2) / 3) continue;
      const elapsed = (now - delivery.receivedAt.getTime()) / 1_000;
      const seconds = Math.min(
        timeout,
        Math.floor(MAX_VISIBILITY_SECONDS - VISIBILITY_MARGIN_SECONDS - elapsed),
      );
      if (seconds <= 0) continue;
      delivery.visibleUntil = now + seconds * 1_000;
      this.#batcher.changeVisibility(delivery.receiptHandle, seconds).catch((error: unknown) => {
        this.#settings.logger.warn(
          {
            messageId: delivery.envelope.id,
            source: describeSource(this.source),
            error: toOmnibusError(error).message,
          },
          'could not extend visibility',
        );
      });
    }
  }
}
