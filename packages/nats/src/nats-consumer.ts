import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Logger } from '@omnibus/core';
import { setTimeout as delay } from 'node:timers/promises';
import { toOmnibusError, withFailureHeaders } from '@omnibus/core';
import type {
  Consumer,
  DeliveryOutcome,
  DeliverySettler,
  DeliverySink,
  Failure,
  Source,
} from '@omnibus/core/transport';
import { DONE, KeyOrderGate, describeSource } from '@omnibus/core/transport';
import { DEAD_LETTER_HEADER, decodeMessage, encodeEnvelope } from './nats-codec.js';
import { NatsDelivery } from './nats-delivery.js';
import { toTransportError } from './nats-errors.js';
import type { NatsNames } from './nats-names.js';

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

/** How long one pull request waits at the server for messages; also the longest a close waits for it. */
const PULL_EXPIRES_MS = 1_000;
const PULL_BACKOFF_MS = 500;

/**
 * Reads one durable pull consumer (a group's, a queue's shared one, or a dead-letter one) with explicit
 * acks.
 *
 * - Bounded: it pulls only as many messages as it has free slots (`concurrency` less the deliveries not
 *   yet settled, parked ones included), so nothing waits unseen in a client buffer.
 * - `retry(delayMs)`: NAK with that delay; JetStream redelivers to the same durable, count raised.
 * - `deadLetter(failure)`: `withFailureHeaders(...)` is published (ack awaited) to the source's subject in
 *   the dead-letter stream, then the original is acked; if the publish fails, the original is NAKed and
 *   the call rejects. A delivery whose count passes `deliveryLimit` is dead-lettered the same way with
 *   code `MAX_DELIVERIES`, without reaching the sink.
 * - Long handlers: a delivery whose sink call runs (or waits its turn) is marked in progress each third
 *   of the ack wait; one the sink returned without settling is left to JetStream's redelivery.
 * - A lost connection or a failed pull is retried after a pause: the consumer resumes on its own.
 * - `close`: stops pulling, waits for sink calls and settlements, NAKs whatever is unsettled.
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
  readonly #held: NatsDelivery[] = [];
  readonly #settlements = new Set<Promise<void>>();
  #sinkCalls = 0;
  #idle: (() => void) | undefined;
  #wake: (() => void) | undefined;
  #paused = false;
  #closing = false;
  #loop: Promise<void> = DONE;
  #ticker: NodeJS.Timeout | undefined;
  #closed: Promise<void> | undefined;

  constructor(
    source: Source,
    sink: DeliverySink,
    concurrency: number,
    context: ConsumerContext,
    onClosed: (consumer: NatsConsumer) => void,
  ) {
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
      const free = this.#concurrency - this.#unsettled.size;
      if (free <= 0 || this.#paused) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      try {
        const consumer = await this.#context.js().consumers.get(this.#stream, this.#durable);
        const batch = await consumer.fetch({ max_messages: free, expires: PULL_EXPIRES_MS });
        for await (const message of batch) this.#receive(message);
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

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #receive(message: JsMsg): void {
    // Pulled while closing: give it straight back.
    if (this.#closing) return message.nak();
    const attempt = message.info.deliveryCount;
    const envelope = decodeMessage(message.headers, message.data);
    const delivery = new NatsDelivery(this, message, envelope, attempt);
    this.#unsettled.add(delivery);
    if (attempt > this.#context.deliveryLimit && this.source.kind !== 'deadLetters') {
      // A message that never got settled this often (its consumer crashed or hung each time): the bus's
      // retry policy never saw it, so the reason is recorded here.
      void delivery
        .deadLetter({
          message: `delivered ${attempt} times without being settled (deliveryLimit ${this.#context.deliveryLimit})`,
          code: 'MAX_DELIVERIES',
          attempts: attempt,
          failedAt: new Date(),
        })
        .catch(() => undefined);
      return;
    }
    delivery.gated = true;
    if (this.#gate.admit(envelope.key, delivery)) this.#handOut(delivery);
  }

  #handOut(delivery: NatsDelivery): void {
    if (this.#closing) return;
    if (this.#paused) {
      this.#held.push(delivery);
      return;
    }
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
      delivery.message.ack();
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
    if (delivery.gated) {
      const next = this.#gate.release(delivery.envelope.key);
      if (next !== undefined) this.#handOut(next);
    }
    this.#wakeUp();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    for (const delivery of this.#held.splice(0)) this.#handOut(delivery);
    this.#wakeUp();
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#wakeUp();
    // The pull in progress ends by its expiry (at most PULL_EXPIRES_MS); what it brings is NAKed.
    await this.#loop;
    await this.#sinkCallsReturned();
    while (this.#settlements.size > 0) await Promise.allSettled([...this.#settlements]);
    clearInterval(this.#ticker);
    for (const delivery of [...this.#unsettled, ...this.#abandoned]) {
      if (delivery.claim()) delivery.message.nak();
    }
    this.#unsettled.clear();
    this.#abandoned.clear();
    this.#onClosed(this);
  }
}
