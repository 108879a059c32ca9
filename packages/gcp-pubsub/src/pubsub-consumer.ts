import type { Message, Subscription } from '@google-cloud/pubsub';
import type { Envelope, Logger } from '@omnibus/core';
import { exponential, toOmnibusError } from '@omnibus/core';
import type {
  Consumer,
  ConsumerSettings,
  DeliveryOutcome,
  DeliverySettler,
  Failure,
  Source,
} from '@omnibus/core/transport';
import { DONE, SinkCalls, describeSource } from '@omnibus/core/transport';
import type { AttemptCounter } from './attempt-counter.js';
import { fromPubSubMessage } from './pubsub-codec.js';
import { PubSubDelivery } from './pubsub-delivery.js';

export interface PubSubConsumerSettings extends ConsumerSettings<PubSubConsumer> {
  /** The client library's subscription, configured with flow control; not yet listened to. */
  readonly subscription: Subscription;
  /** The subscription has message ordering: one delivery per ordering key at a time. */
  readonly ordered: boolean;
  /**
   * Whether to take the attempt from the server's `deliveryAttempt` when it reports one (it does on
   * subscriptions with a dead-letter policy). False with an emulator: pstest counts the deliveries of a
   * message to all subscriptions of its topic together.
   */
  readonly serverAttempts: boolean;
  /** Counts attempts otherwise, in this process. */
  readonly attempts: AttemptCounter;
  /** Stores a dead letter durably; rejects when it could not. */
  readonly deadLetter: (delivery: PubSubDelivery, failure: Failure) => Promise<void>;
  /** Adjusts a decoded envelope (dead-letter sources add the reason the server did not write). */
  readonly decorate?: (envelope: Envelope, message: Message) => Envelope;
  readonly logger: Logger;
}

const reconnectBackoff = exponential({ initialMs: 250, maxMs: 30_000 });

/**
 * One streaming-pull consumer of a subscription. The client library leases what it receives and extends
 * the ack deadlines while handlers run; this class hands deliveries to the sink, at most `concurrency` at a
 * time and, on an ordered subscription, one per ordering key until it is settled.
 *
 * Settlement: `ack` acks; `retry(0)` nacks (Pub/Sub redelivers at once); `retry(delayMs)` keeps the lease
 * for `delayMs` and then nacks, because Pub/Sub has no per-message delay and a subscription's retry policy
 * is neither per message nor applied by emulators (the held message keeps its flow-control slot meanwhile);
 * `deadLetter` publishes to the dead-letter topic, then acks. On an ordered subscription the messages of a
 * retried key that are waiting here are nacked with it, so the server redelivers the key in order.
 *
 * The library reconnects a stream that fails with a passing error itself; when it gives up (it closes the
 * subscription), this consumer opens it again with backoff, until it is closed.
 */
export class PubSubConsumer implements Consumer, DeliverySettler<PubSubDelivery> {
  readonly source: Source;
  readonly #subscription: Subscription;
  readonly #options: PubSubConsumerSettings;
  /** Received, not yet handed to the sink (no capacity, paused, or their key is busy). */
  #ready: PubSubDelivery[] = [];
  /** The delivery stays unsettled when its sink throws, and is released for redelivery when the consumer closes. */
  readonly #sinkCalls = new SinkCalls(
    (error) =>
      this.#options.logger.error(
        { source: describeSource(this.source), error: toOmnibusError(error).message },
        'delivery sink threw',
      ),
    () => this.#pump(),
  );
  /** Handed to the sink and not settled yet. */
  readonly #unsettled = new Set<PubSubDelivery>();
  readonly #keysInFlight = new Set<string>();
  /** Delayed retries: leased until their delay has passed, then nacked. */
  readonly #held = new Map<PubSubDelivery, NodeJS.Timeout>();
  /** Dead-letter publishes in progress. */
  readonly #settling = new Set<Promise<void>>();
  #paused = false;
  #closing: Promise<void> | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #reconnects = 0;

  constructor(options: PubSubConsumerSettings) {
    this.#options = options;
    this.source = options.source;
    this.#subscription = options.subscription;
  }

  /** True while the library's subscriber is down and this consumer waits to open it again. */
  get reconnecting(): boolean {
    return this.#reconnectTimer !== undefined;
  }

  /** Opens the streaming pull (the library opens it when the first `message` listener is added). */
  start(): void {
    this.#subscription.on('error', this.#onError);
    this.#subscription.on('close', this.#onClose);
    this.#subscription.on('message', this.#onMessage);
  }

  readonly #onMessage = (message: Message): void => {
    if (this.#closing !== undefined) return; // still leased: the library's close nacks it
    this.#reconnects = 0;
    let envelope = fromPubSubMessage(message);
    if (this.#options.decorate !== undefined) envelope = this.#options.decorate(envelope, message);
    const attempt =
      this.#options.serverAttempts && message.deliveryAttempt > 0
        ? message.deliveryAttempt
        : this.#options.attempts.next(message.id);
    this.#ready.push(new PubSubDelivery(this, message, envelope, attempt));
    this.#pump();
  };

  readonly #onError = (error: unknown): void => {
    this.#options.logger.warn(
      { source: describeSource(this.source), error: toOmnibusError(error).message },
      'pubsub subscriber error',
    );
  };

  /** The library closed the subscriber on its own (a stream failed for good): open it again, with backoff. */
  readonly #onClose = (): void => {
    if (this.#closing !== undefined || this.#reconnectTimer !== undefined) return;
    // The library nacked everything it held, so what waits here will come again.
    this.#ready = [];
    this.#keysInFlight.clear();
    for (const delivery of this.#unsettled) {
      const key = this.#keyOf(delivery);
      if (key !== undefined) this.#keysInFlight.add(key);
    }
    const delayMs = reconnectBackoff(++this.#reconnects);
    this.#options.logger.warn(
      { source: describeSource(this.source), attempt: this.#reconnects, delayMs },
      'pubsub subscriber closed by the client library: reopening',
    );
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#closing === undefined) this.#subscription.open();
    }, delayMs);
  };

  #keyOf(delivery: PubSubDelivery): string | undefined {
    return this.#options.ordered && delivery.message.orderingKey ? delivery.message.orderingKey : undefined;
  }

  #pump(): void {
    if (this.#paused || this.#closing !== undefined) return;
    for (let i = 0; i < this.#ready.length && this.#sinkCalls.size < this.#options.concurrency;) {
      const delivery = this.#ready[i]!;
      const key = this.#keyOf(delivery);
      if (key !== undefined && this.#keysInFlight.has(key)) {
        i++;
        continue;
      }
      this.#ready.splice(i, 1);
      if (key !== undefined) this.#keysInFlight.add(key);
      this.#handOut(delivery);
    }
  }

  #handOut(delivery: PubSubDelivery): void {
    this.#unsettled.add(delivery);
    this.#sinkCalls.call(this.#options.sink, delivery);
  }

  settle(delivery: PubSubDelivery, outcome: DeliveryOutcome): Promise<void> {
    switch (outcome.kind) {
      case 'ack':
        this.#ack(delivery);
        return DONE;
      case 'retry':
        this.#retry(delivery, outcome.delayMs);
        return DONE;
      case 'deadLetter':
        return this.#deadLetter(delivery, outcome.failure);
    }
  }

  #ack(delivery: PubSubDelivery): void {
    this.#unsettled.delete(delivery);
    delivery.message.ack();
    this.#options.attempts.forget(delivery.message.id);
    this.#releaseKey(delivery);
  }

  #retry(delivery: PubSubDelivery, delayMs: number): void {
    this.#unsettled.delete(delivery);
    if (delayMs === 0) return this.#nack(delivery);
    const timer = setTimeout(() => {
      this.#held.delete(delivery);
      this.#nack(delivery);
    }, delayMs);
    this.#held.set(delivery, timer);
  }

  #deadLetter(delivery: PubSubDelivery, failure: Failure): Promise<void> {
    this.#unsettled.delete(delivery);
    const settling = (async () => {
      try {
        await this.#options.deadLetter(delivery, failure);
      } catch (error) {
        delivery.message.nack(); // not stored: deliver it again rather than hold it
        this.#releaseKey(delivery);
        throw error;
      }
      delivery.message.ack();
      this.#options.attempts.forget(delivery.message.id);
      this.#releaseKey(delivery);
    })();
    this.#settling.add(settling);
    void settling.then(
      () => this.#settling.delete(settling),
      () => this.#settling.delete(settling),
    );
    return settling;
  }

  /** Nacks a delivery and, on an ordered subscription, the messages of its key that wait behind it. */
  #nack(delivery: PubSubDelivery): void {
    delivery.message.nack();
    const key = this.#keyOf(delivery);
    if (key !== undefined) {
      this.#ready = this.#ready.filter((waiting) => {
        if (this.#keyOf(waiting) !== key) return true;
        waiting.message.nack();
        return false;
      });
    }
    this.#releaseKey(delivery);
  }

  #releaseKey(delivery: PubSubDelivery): void {
    const key = this.#keyOf(delivery);
    if (key !== undefined) this.#keysInFlight.delete(key);
    this.#pump();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#pump();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    await this.#sinkCalls.whenIdle();
    while (this.#settling.size > 0) await Promise.allSettled([...this.#settling]);
    for (const delivery of this.#unsettled) if (delivery.claim()) delivery.message.nack();
    this.#unsettled.clear();
    // A delayed retry is released now, before its delay is over: it comes back at once, attempt + 1.
    for (const [delivery, timer] of this.#held) {
      clearTimeout(timer);
      delivery.message.nack();
    }
    this.#held.clear();
    for (const delivery of this.#ready) delivery.message.nack();
    this.#ready = [];
    try {
      // Sends the nacks above and the acks still batched, and waits for them.
      await this.#subscription.close();
    } catch (error) {
      this.#onError(error);
    }
    this.#subscription.removeAllListeners();
    this.#options.onClosed(this);
  }
}
