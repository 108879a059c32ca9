import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Subscription } from '@nats-io/transport-node';
import type { Logger } from '@omnibus/core';
import { setTimeout as delay } from 'node:timers/promises';
import { toOmnibusError } from '@omnibus/core';
import {
  type Consumer,
  type ConsumerSettings,
  type DeliveryOutcome,
  type DeliverySettler,
  type DeliverySink,
  type Failure,
  type Source,
  withFailureHeaders,
} from '@omnibus/core/transport';
import { DONE, KeyOrderGate, describeSource } from '@omnibus/core/transport';
import { DEAD_LETTER_HEADER, encodeEnvelope } from './nats-codec.js';
import { NatsDelivery } from './nats-delivery.js';
import { toTransportError } from './nats-errors.js';
import type { NatsNames } from './nats-names.js';
import { decodeReceived, deliveryCountOf } from './nats-received.js';

/**
 * Ends a pull without losing what is on its way. The client's `close()` drops the pull's inbox subscription
 * at once, so a message JetStream had just sent for the pull would be dropped and come back only after the
 * ack wait. Draining the subscription first (UNSUB, then a round trip to the server) lets such messages
 * reach the callback, which NAKs them while closing, so they are redelivered at once. @nats-io/jetstream
 * 3.x keeps that subscription in `sub`, outside its declared types; without it this is a plain close.
 */
async function endPull(messages: ConsumerMessages): Promise<void> {
  const sub = (messages as unknown as { sub?: Subscription }).sub;
  if (sub !== undefined && !sub.isClosed()) await sub.drain().catch(() => undefined);
  await messages.close().catch(() => undefined);
}

/** What a consumer shares with its transport. */
export interface ConsumerContext {
  readonly js: () => JetStreamClient;
  readonly names: NatsNames;
  readonly deliveryLimit: number;
  readonly ackWaitMs: number;
  /** Publishes one encoded message to a subject and resolves on JetStream's ack. */
  readonly publish: (subject: string, envelope: ReturnType<typeof encodeEnvelope>) => Promise<void>;
  readonly logger: Logger;
}

export interface NatsConsumerSettings extends ConsumerSettings<NatsConsumer> {
  readonly context: ConsumerContext;
}

/** How long one pull request of the long-lived pull waits at the server before it is renewed. */
const PULL_EXPIRES_MS = 5_000;
const PULL_BACKOFF_MS = 500;

/**
 * Reads one durable pull consumer (a group's, a queue's shared one, or a dead-letter one) with explicit
 * acks.
 *
 * - One long-lived pull (`consume()` of @nats-io/jetstream, callback mode): pull requests of up to
 *   `concurrency` messages stay outstanding and are renewed before they run out, so messages flow without
 *   a round trip per batch, and a socket read's messages are handled (and acked) in one go.
 * - Bounded: at most `concurrency` deliveries are in the sink at once; the others wait here, in order, and
 *   are kept alive like those in the sink. What the server hands out unacked is capped by the durable's
 *   `max_ack_pending` (the `maxAckPending` option).
 * - `retry(delayMs)`: NAK with that delay; JetStream redelivers to the same durable, count raised.
 * - `deadLetter(failure)`: `withFailureHeaders(...)` is published (ack awaited) to the source's subject in
 *   the dead-letter stream, then the original is acked; if the publish fails, the original is NAKed and
 *   the call rejects. A delivery whose count passes `deliveryLimit` is dead-lettered the same way with
 *   code `MAX_DELIVERIES_EXCEEDED`, without reaching the sink.
 * - Long handlers: a delivery whose sink call runs (or waits its turn) is marked in progress each third
 *   of the ack wait; one the sink returned without settling is left to JetStream's redelivery.
 * - A lost connection or a failed pull is retried after a pause: the consumer resumes on its own.
 * - `close`: stops pulling (draining the pull, so what JetStream still sends for it is NAKed, not dropped),
 *   waits for sink calls and settlements, NAKs whatever is unsettled.
 */
export class NatsConsumer implements Consumer, DeliverySettler<NatsDelivery> {
  readonly source: Source;
  readonly #stream: string;
  readonly #durable: string;
  readonly #sink: DeliverySink;
  readonly #concurrency: number;
  readonly #context: ConsumerContext;
  readonly #onClosed: (consumer: NatsConsumer) => void;
  readonly #gate = new KeyOrderGate<NatsDelivery>();
  /** Received and not settled, with the sink call running or yet to come: each holds a slot. */
  readonly #unsettled = new Set<NatsDelivery>();
  /** Their sink call returned without settling: JetStream redelivers them after the ack wait. */
  readonly #abandoned = new Set<NatsDelivery>();
  /** Admitted, waiting for a free slot (or for `resume`), in arrival order. */
  readonly #waiting: NatsDelivery[] = [];
  /** Deliveries in the sink and not yet settled or abandoned. */
  #active = 0;
  readonly #settlements = new Set<Promise<void>>();
  #sinkCalls = 0;
  #idle: (() => void) | undefined;
  #paused = false;
  #closing = false;
  #loop: Promise<void> = DONE;
  #messages: ConsumerMessages | undefined;
  /** Acks asked for in this turn of the event loop, written together at its end. */
  #acks: JsMsg[] = [];
  #acksScheduled = false;
  readonly #flushAcks = (): void => {
    this.#acksScheduled = false;
    const acks = this.#acks;
    this.#acks = [];
    for (const message of acks) message.ack();
  };
  #ticker: NodeJS.Timeout | undefined;
  #closed: Promise<void> | undefined;

  constructor({ source, sink, concurrency, context, onClosed }: NatsConsumerSettings) {
    this.source = source;
    const { stream, durable } = context.names.consumerOf(source);
    this.#stream = stream;
    this.#durable = durable;
    this.#sink = sink;
    this.#concurrency = concurrency;
    this.#context = context;
    this.#onClosed = onClosed;
  }

  /** Resolves once the durable answers; then pulls in the background. */
  async start(): Promise<void> {
    try {
      await this.#context.js().consumers.get(this.#stream, this.#durable);
    } catch (error) {
      throw toTransportError(error, `opening consumer ${this.#durable} of ${this.#stream}`);
    }
    const tick = Math.max(500, Math.floor(this.#context.ackWaitMs / 3));
    this.#ticker = setInterval(() => {
      for (const delivery of this.#unsettled) delivery.message.working();
    }, tick);
    this.#ticker.unref();
    this.#loop = this.#pullLoop();
  }

  async #pullLoop(): Promise<void> {
    while (!this.#closing) {
      try {
        const consumer = await this.#context.js().consumers.get(this.#stream, this.#durable);
        const messages = await consumer.consume({
          max_messages: this.#concurrency,
          expires: PULL_EXPIRES_MS,
          callback: this.#onMessage,
        });
        this.#messages = messages;
        // Closed while the pull was being set up: end it (what it still brings is NAKed).
        if (this.#closing) void endPull(messages);
        const ended = await messages.closed();
        if (ended instanceof Error) throw ended;
      } catch (error) {
        if (this.#closing) break;
        this.#context.logger.warn(
          { source: describeSource(this.source), error: toOmnibusError(error).message },
          'nats pull failed; pulling again',
        );
        await delay(PULL_BACKOFF_MS);
      }
    }
  }

  readonly #onMessage = (message: JsMsg): void => this.#receive(message);

  #receive(message: JsMsg): void {
    // Pulled while closing: give it straight back.
    if (this.#closing) return message.nak();
    const attempt = deliveryCountOf(message);
    const envelope = decodeReceived(message);
    const delivery = new NatsDelivery(this, message, envelope, attempt);
    this.#unsettled.add(delivery);
    if (attempt > this.#context.deliveryLimit && this.source.kind !== 'deadLetters') {
      // A message that never got settled this often (its consumer crashed or hung each time): the bus's
      // retry policy never saw it, so the reason is recorded here.
      void delivery
        .deadLetter({
          message: `delivered ${attempt} times without being settled (deliveryLimit ${this.#context.deliveryLimit})`,
          code: 'MAX_DELIVERIES_EXCEEDED',
          attempts: attempt,
          failedAt: new Date(),
        })
        .catch(() => undefined);
      return;
    }
    delivery.gated = true;
    if (this.#gate.admit(envelope.key, delivery)) this.#offer(delivery);
  }

  /** Into the sink when a slot is free and the consumer runs; else it waits its turn. */
  #offer(delivery: NatsDelivery): void {
    if (this.#closing) return;
    if (this.#paused || this.#active >= this.#concurrency) this.#waiting.push(delivery);
    else this.#handOut(delivery);
  }

  #handOut(delivery: NatsDelivery): void {
    this.#active++;
    delivery.active = true;
    this.#sinkCalls++;
    let call: Promise<void>;
    try {
      call = this.#sink(delivery);
    } catch (error) {
      call = Promise.reject(toOmnibusError(error));
    }
    Promise.resolve(call).then(
      () => this.#sinkReturned(delivery),
      (error: unknown) => {
        this.#context.logger.error(
          { source: describeSource(this.source), error: toOmnibusError(error).message },
          'delivery sink threw',
        );
        this.#sinkReturned(delivery);
      },
    );
  }

  #sinkReturned(delivery: NatsDelivery): void {
    if (!delivery.settled && this.#unsettled.delete(delivery)) {
      // Left unsettled: no longer kept alive; JetStream redelivers it after the ack wait (or the close
      // NAKs it). Its slot and its key are free meanwhile, so the consumer keeps going.
      this.#abandoned.add(delivery);
      this.#release(delivery);
    }
    if (--this.#sinkCalls === 0) this.#idle?.();
  }

  #sinkCallsReturned(): Promise<void> {
    if (this.#sinkCalls === 0) return DONE;
    return new Promise((resolve) => {
      const previous = this.#idle;
      this.#idle = () => {
        this.#idle = undefined;
        previous?.();
        resolve();
      };
    });
  }

  settle(delivery: NatsDelivery, outcome: DeliveryOutcome): Promise<void> {
    if (outcome.kind === 'ack') {
      // The client writes what is sent within one microtask turn as one socket write; acks from handlers
      // that finish in different turns are gathered until the end of this turn of the event loop.
      this.#acks.push(delivery.message);
      if (!this.#acksScheduled) {
        this.#acksScheduled = true;
        setImmediate(this.#flushAcks);
      }
      this.#done(delivery);
      return DONE;
    }
    if (outcome.kind === 'retry') {
      const delayMs =
        Number.isFinite(outcome.delayMs) && outcome.delayMs > 0 ? Math.ceil(outcome.delayMs) : 0;
      delivery.message.nak(delayMs > 0 ? delayMs : undefined);
      this.#done(delivery);
      return DONE;
    }
    const settlement = this.#deadLetter(delivery, outcome.failure);
    this.#settlements.add(settlement);
    void settlement.then(
      () => this.#settlements.delete(settlement),
      () => this.#settlements.delete(settlement),
    );
    return settlement;
  }

  async #deadLetter(delivery: NatsDelivery, failure: Failure): Promise<void> {
    const message = delivery.message;
    // A dead letter that fails again goes back to the end of its own subject with the new reason.
    const of = this.source.kind === 'deadLetters' ? this.source.of : this.source;
    const failed = withFailureHeaders(delivery.envelope, failure, this.source);
    const copy = {
      ...failed,
      headers: { ...failed.headers, [DEAD_LETTER_HEADER]: `${message.info.stream}:${message.seq}` },
    };
    try {
      await this.#context.publish(this.#context.names.deadLetterSubject(of), encodeEnvelope(copy));
    } catch (error) {
      message.nak();
      this.#done(delivery);
      throw toTransportError(error, `dead-lettering ${delivery.envelope.id}`);
    }
    message.ack();
    this.#done(delivery);
  }

  /** The delivery is settled: its slot is free and the next parked delivery of its key may go. */
  #done(delivery: NatsDelivery): void {
    if (this.#unsettled.delete(delivery)) this.#release(delivery);
    else this.#abandoned.delete(delivery);
  }

  #release(delivery: NatsDelivery): void {
    if (delivery.active) {
      delivery.active = false;
      this.#active--;
    }
    if (delivery.gated) {
      const next = this.#gate.release(delivery.envelope.key);
      if (next !== undefined) this.#offer(next);
    }
    this.#drain();
  }

  #drain(): void {
    while (!this.#paused && !this.#closing && this.#active < this.#concurrency && this.#waiting.length > 0) {
      this.#handOut(this.#waiting.shift()!);
    }
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#drain();
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    // Ends the pull; what it still brings is NAKed, and so is what waits here (below).
    if (this.#messages !== undefined) await endPull(this.#messages);
    await this.#loop;
    await this.#sinkCallsReturned();
    while (this.#settlements.size > 0) await Promise.allSettled([...this.#settlements]);
    this.#flushAcks();
    clearInterval(this.#ticker);
    for (const delivery of [...this.#unsettled, ...this.#abandoned]) {
      if (delivery.claim()) delivery.message.nak();
    }
    this.#unsettled.clear();
    this.#abandoned.clear();
    this.#onClosed(this);
  }
}
