import type { EventContext, Receiver } from 'rhea';
import type { Logger, SigningKeys } from '@omnibus/core';
import { toOmnibusError } from '@omnibus/core';
import {
  type Consumer,
  type ConsumerSettings,
  type DeliveryOutcome,
  type DeliverySettler,
  type DeliverySink,
  type Source,
  sealAttempt,
  withFailureHeaders,
} from '@omnibus/core/transport';
import { DONE, KeyOrderGate, describeSource } from '@omnibus/core/transport';
import type { Amqp10Connection } from './amqp10-connection.js';
import { decodeMessage, encodeEnvelope } from './amqp10-codec.js';
import { Amqp10Delivery } from './amqp10-delivery.js';
import { toTransportError } from './amqp10-errors.js';
import type { Terminus } from './amqp10-names.js';
import type { Amqp10Publisher } from './amqp10-publisher.js';

/** Retry delays are capped so that a scheduled copy cannot be lost in the far future by a typo. */
export const MAX_RETRY_DELAY_MS = 24 * 60 * 60 * 1000;

export interface ConsumerContext {
  readonly connection: Amqp10Connection;
  readonly publisher: Amqp10Publisher;
  /** Unsettled deliveries of one copy before the consumer dead-letters it (see `deliveryLimit`). */
  readonly deliveryLimit: number;
  readonly logger: Logger;
  readonly signing: SigningKeys | undefined;
}

export interface Amqp10ConsumerSettings extends ConsumerSettings<Amqp10Consumer> {
  readonly targets: ConsumerTargets;
  readonly context: ConsumerContext;
}

export interface ConsumerTargets {
  /** What the receiver attaches to; also where retry copies go (this group or queue alone). */
  readonly source: Terminus;
  /** The dead-letter queue. */
  readonly deadLetters: Terminus;
}

/**
 * Consumes one queue (a subscriber group's by its fully qualified name, a command queue, or a dead-letter
 * queue) on a receiver link of its own, with manual settlement and credit-based flow control: the link
 * never has more credit than `concurrency` minus the deliveries not yet settled, so at most `concurrency`
 * messages are in this process at once (held ones included).
 *
 * - ack: `accepted`.
 * - retry(delayMs): a copy with attempt + 1 is sent (and accepted by the broker) to the same queue, with
 *   Artemis's `x-opt-delivery-time` when delayed; then the original is `accepted`.
 * - deadLetter(failure): a copy with the failure headers is sent (and accepted) to `<queue>.dlq`; then the
 *   original is `accepted`. If the process dies between the two the original comes back and is
 *   dead-lettered again: a duplicate dead letter, never a lost one.
 * - If a copy cannot be sent, the original is settled `modified` (delivery failed) so the broker delivers
 *   it again, and the call rejects. Unsettled deliveries are `modified` the same way when the consumer
 *   closes.
 * - Per-key order inside the consumer by a gate; across consumers by Artemis message groups (`group-id`).
 * - After a connection drop rhea re-attaches the link; the old deliveries are the broker's again (their
 *   settlements do nothing), and credit is granted afresh.
 */
export class Amqp10Consumer implements Consumer, DeliverySettler<Amqp10Delivery> {
  readonly source: Source;
  readonly #targets: ConsumerTargets;
  readonly #sink: DeliverySink;
  readonly #concurrency: number;
  readonly #context: ConsumerContext;
  readonly #onClosed: (consumer: Amqp10Consumer) => void;
  #receiver: Receiver | undefined;
  #epoch = 0;
  #gate = new KeyOrderGate<Amqp10Delivery>();
  #held: Amqp10Delivery[] = [];
  /** Deliveries that take a credit slot: received and not settled (of an old link: while in the sink). */
  readonly #holding = new Set<Amqp10Delivery>();
  #sinkCalls = 0;
  #idle: (() => void) | undefined;
  readonly #settlements = new Set<Promise<void>>();
  #paused = false;
  #attached = false;
  #closing = false;
  #closed: Promise<void> | undefined;

  constructor({ source, targets, sink, concurrency, context, onClosed }: Amqp10ConsumerSettings) {
    this.source = source;
    this.#targets = targets;
    this.#sink = sink;
    this.#concurrency = concurrency;
    this.#context = context;
    this.#onClosed = onClosed;
  }

  get attached(): boolean {
    return this.#attached;
  }

  get address(): string {
    return this.#targets.source.address;
  }

  /** Attaches; resolves once the broker has attached the link (auto-creating the queue if need be). */
  start(): Promise<void> {
    const connection = this.#context.connection.current(`consuming from ${this.address}`);
    const receiver = connection.open_receiver({
      source: { address: this.address, capabilities: [this.#targets.source.capability] },
      credit_window: 0,
      autoaccept: false,
      rcv_settle_mode: 0,
    } as never);
    this.#receiver = receiver;
    receiver.on('message', (context: EventContext) => this.#onMessage(context));
    receiver.on('receiver_error', (context: EventContext) => {
      this.#context.logger.warn(
        {
          source: describeSource(this.source),
          error: toTransportError(context.receiver?.error, 'consuming').message,
        },
        'amqp10 consumer link closed by the broker',
      );
    });
    return new Promise<void>((resolve, reject) => {
      let first = true;
      receiver.on('receiver_open', () => {
        this.#attached = true;
        this.#topUp();
        if (first) {
          first = false;
          resolve();
        }
      });
      receiver.on('receiver_close', (context: EventContext) => {
        this.#attached = false;
        if (first) {
          first = false;
          reject(
            toTransportError(
              context.receiver?.error ?? new Error('link refused'),
              `consuming from ${this.address}`,
            ),
          );
        }
      });
    });
  }

  /** The connection dropped: the broker has taken back every unsettled delivery of this link. */
  connectionLost(): void {
    this.#attached = false;
    this.#epoch++;
    this.#gate = new KeyOrderGate();
    this.#held = [];
    for (const delivery of this.#holding) if (!delivery.inSink) this.#holding.delete(delivery);
  }

  #onMessage(context: EventContext): void {
    const wire = context.delivery;
    const message = context.message;
    if (wire === undefined || message === undefined) return;
    const decoded = decodeMessage(message, {
      queue: describeSource(this.source),
      keys: this.#context.signing,
    });
    const delivery = new Amqp10Delivery(this, wire, this.#epoch, decoded.envelope, decoded.attempt);
    this.#holding.add(delivery);
    if (decoded.failedDeliveries >= this.#context.deliveryLimit && this.source.kind !== 'deadLetters') {
      // Delivered this often without a settlement (its consumer crashed or hung each time): the bus's
      // retry policy never saw it, so the reason is recorded here, before the broker's own limit moves it
      // to its DLQ without one.
      void delivery
        .deadLetter({
          message: `delivered ${decoded.failedDeliveries + 1} times without being settled (deliveryLimit ${this.#context.deliveryLimit})`,
          code: 'MAX_DELIVERIES_EXCEEDED',
          attempts: decoded.attempt,
          failedAt: new Date(),
        })
        .catch(() => undefined);
      return;
    }
    delivery.gated = true;
    if (this.#gate.admit(delivery.envelope.key, delivery)) this.#handOut(delivery);
  }

  #handOut(delivery: Amqp10Delivery): void {
    // While closing, deliveries stay unsettled: closing gives them back.
    if (this.#closing || delivery.epoch !== this.#epoch) return;
    if (this.#paused) {
      this.#held.push(delivery);
      return;
    }
    this.#sinkCalls++;
    delivery.inSink = true;
    let call: Promise<void>;
    try {
      call = this.#sink(delivery);
    } catch (error) {
      call = Promise.reject(toOmnibusError(error));
    }
    Promise.resolve(call).then(
      () => this.#sinkReturned(delivery),
      (error: unknown) => {
        // The delivery stays unsettled (given back when the consumer closes); the consumer carries on.
        this.#context.logger.error(
          { source: describeSource(this.source), error: toOmnibusError(error).message },
          'delivery sink threw',
        );
        this.#sinkReturned(delivery);
      },
    );
  }

  #sinkReturned(delivery: Amqp10Delivery): void {
    delivery.inSink = false;
    if (delivery.epoch !== this.#epoch && this.#holding.delete(delivery)) this.#topUp();
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

  /** Grants credit up to `concurrency` minus what this process holds. */
  #topUp(): void {
    const receiver = this.#receiver;
    if (receiver === undefined || !this.#attached || this.#paused || this.#closing) return;
    // rhea keeps the link's outstanding credit in `credit` (not in its typings).
    const credit = (receiver as unknown as { credit: number }).credit;
    const want = this.#concurrency - this.#holding.size - credit;
    if (want > 0) receiver.add_credit(want);
  }

  settle(delivery: Amqp10Delivery, outcome: DeliveryOutcome): Promise<void> {
    if (outcome.kind === 'ack') {
      if (this.#live(delivery)) delivery.wire.accept();
      this.#done(delivery);
      return DONE;
    }
    const settlement = this.#republish(delivery, outcome);
    this.#settlements.add(settlement);
    const forget = (): void => void this.#settlements.delete(settlement);
    settlement.then(forget, forget);
    return settlement;
  }

  async #republish(
    delivery: Amqp10Delivery,
    outcome: Exclude<DeliveryOutcome, { kind: 'ack' }>,
  ): Promise<void> {
    try {
      if (outcome.kind === 'deadLetter') {
        const copy = withFailureHeaders(delivery.envelope, outcome.failure, this.source);
        await this.#context.publisher.publish(this.#targets.deadLetters, [encodeEnvelope(copy)]);
      } else {
        const delayMs = Math.min(
          MAX_RETRY_DELAY_MS,
          Math.ceil(Number.isFinite(outcome.delayMs) ? outcome.delayMs : 0),
        );
        const deliverAt = delayMs > 0 ? Date.now() + delayMs : undefined;
        const keys = this.#context.signing;
        const next = delivery.attempt + 1;
        const seal =
          keys === undefined
            ? undefined
            : sealAttempt(delivery.envelope.id, describeSource(this.source), next, keys);
        const copy = encodeEnvelope(delivery.envelope, next, deliverAt, seal);
        await this.#context.publisher.publish(this.#targets.source, [copy]);
      }
    } catch (error) {
      // Not copied: give the original back for another delivery rather than leave it stuck here.
      if (this.#live(delivery)) delivery.wire.modified({ delivery_failed: true });
      this.#done(delivery);
      throw toTransportError(
        error,
        `${outcome.kind === 'retry' ? 'retrying' : 'dead-lettering'} ${delivery.envelope.id}`,
      );
    }
    if (this.#live(delivery)) delivery.wire.accept();
    this.#done(delivery);
  }

  /** Still on the link that carried it: its settlement reaches the broker. */
  #live(delivery: Amqp10Delivery): boolean {
    return delivery.epoch === this.#epoch && this.#attached;
  }

  #done(delivery: Amqp10Delivery): void {
    this.#holding.delete(delivery);
    if (delivery.gated && delivery.epoch === this.#epoch) {
      const next = this.#gate.release(delivery.envelope.key);
      if (next !== undefined) this.#handOut(next);
    }
    this.#topUp();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    for (const delivery of this.#held.splice(0)) this.#handOut(delivery);
    this.#topUp();
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    await this.#sinkCallsReturned();
    while (this.#settlements.size > 0) await Promise.allSettled([...this.#settlements]);
    const receiver = this.#receiver;
    if (receiver !== undefined) {
      // Unsettled, parked or held: back to the queue, counted as a failed delivery.
      for (const delivery of this.#holding) {
        if (this.#live(delivery) && !delivery.settled) delivery.wire.modified({ delivery_failed: true });
      }
      this.#holding.clear();
      await closeLink(receiver);
    }
    this.#attached = false;
    this.#onClosed(this);
  }
}

async function closeLink(receiver: Receiver): Promise<void> {
  if (!receiver.is_open()) {
    receiver.close();
    return;
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 5_000);
    receiver.once('receiver_close', () => {
      clearTimeout(timer);
      resolve();
    });
    receiver.close();
  });
}
