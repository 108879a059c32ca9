import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Logger, SigningKeys } from '@omnibus/core';
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
import { setTimeout as delay } from 'node:timers/promises';
import { Header, exponential, toOmnibusError } from '@omnibus/core';
import { DONE, KeyOrderGate, SinkCalls, describeSource } from '@omnibus/core/transport';
import type { RabbitMqConnection } from './rabbitmq-connection.js';
import { AckBatcher } from './ack-batcher.js';
import { toTransportError } from './rabbitmq-errors.js';
import { decodeMessage, encodeEnvelope } from './rabbitmq-codec.js';
import type { ConfirmPublisher, Outgoing } from './confirm-publisher.js';
import { RabbitMqDelivery, type Attachment } from './rabbitmq-delivery.js';
import type { RabbitMqProvisioner } from './rabbitmq-provisioner.js';
import { MAX_RETRY_DELAY_MS, deadLetterQueueOf, retryBucketOf } from './rabbitmq-names.js';

/** What a consumer shares with its transport. */
export interface ConsumerContext {
  readonly connection: RabbitMqConnection;
  readonly publisher: ConfirmPublisher;
  readonly topology: RabbitMqProvisioner;
  readonly logger: Logger;
  readonly signing: SigningKeys | undefined;
}

export interface RabbitMqConsumerSettings extends ConsumerSettings<RabbitMqConsumer> {
  /** The queue `source` reads. */
  readonly queue: string;
  readonly context: ConsumerContext;
}

export type ConsumerState = 'starting' | 'running' | 'detached' | 'closing' | 'closed';

const REATTACH_ATTEMPTS = 5;
const REATTACH_BACKOFF = exponential({ initialMs: 100, maxMs: 2_000 });

/**
 * Consumes one queue (a subscriber group's, a command queue, or a dead-letter queue) on a channel of its
 * own with `prefetch = concurrency` and manual acks.
 *
 * - Settlement: the first of ack/retry/deadLetter counts; later calls resolve without effect, so no tag is
 *   ever acked twice (which would make RabbitMQ close the channel).
 * - `retry(delayMs)`: a copy with `omnibus-attempt` + 1 is published (confirmed) to this queue through
 *   the retry exchange, or for a delay to the retry queue of its delay bucket with a per-message TTL of
 *   exactly `delayMs`, which dead-letters it back to this queue alone through the same exchange; then the
 *   original is acked. Arriving through that exchange is what makes the attempt count believed.
 * - `deadLetter(failure)`: `withFailureHeaders(...)` is published (confirmed) to `<queue>.dlq`, then the
 *   original is acked. If either publish fails the original is requeued and the call rejects.
 * - Per-key order within the consumer (see `KeyOrderGate`); across consumers, ordered queues have a single
 *   active consumer.
 * - When the channel or connection is lost, in-flight sink calls finish (their settlements are no-ops),
 *   then the consumer attaches again once the connection and topology are back.
 */
export class RabbitMqConsumer implements Consumer, DeliverySettler<RabbitMqDelivery> {
  readonly source: Source;
  readonly queue: string;
  readonly #sink: DeliverySink;
  readonly #concurrency: number;
  readonly #context: ConsumerContext;
  readonly #onClosed: (consumer: RabbitMqConsumer) => void;
  /** Sink calls that have not returned yet: a detached or closing consumer waits for them. */
  readonly #sinkCalls: SinkCalls;
  readonly #settlements = new Set<Promise<void>>();
  #attachment: Attachment | undefined;
  #state: ConsumerState = 'starting';
  #paused = false;
  #reattaching: Promise<void> | undefined;
  #recovered: ChannelModel | undefined;
  #closed: Promise<void> | undefined;

  constructor({ source, queue, sink, concurrency, context, onClosed }: RabbitMqConsumerSettings) {
    this.source = source;
    this.queue = queue;
    this.#sink = sink;
    this.#concurrency = concurrency;
    this.#context = context;
    this.#onClosed = onClosed;
    // The delivery stays unsettled (released when the consumer closes); the consumer carries on.
    this.#sinkCalls = new SinkCalls((error) =>
      context.logger.error(
        { source: describeSource(source), error: toOmnibusError(error).message },
        'delivery sink threw',
      ),
    );
  }

  get state(): ConsumerState {
    return this.#state;
  }

  /** Attaches; resolves once RabbitMQ has registered the consumer. */
  async start(): Promise<void> {
    this.#attachment = await this.#attach(this.#context.connection.model());
    this.#state = 'running';
  }

  async #attach(model: ChannelModel): Promise<Attachment> {
    let channel: Channel;
    try {
      channel = await model.createChannel();
    } catch (error) {
      throw toTransportError(error, `opening a channel to consume ${this.queue}`);
    }
    const attachment: Attachment = {
      channel,
      consumerTag: undefined,
      open: true,
      gate: new KeyOrderGate(),
      held: [],
      acks: new AckBatcher(channel),
    };
    channel.on('error', (error: Error) => {
      this.#context.logger.warn(
        { source: describeSource(this.source), error: error.message },
        'rabbitmq consumer channel closed by the broker',
      );
    });
    channel.once('close', () => this.#onChannelClosed(attachment));
    try {
      await channel.prefetch(this.#concurrency);
      const { consumerTag } = await channel.consume(
        this.queue,
        (message) => this.#onMessage(attachment, message),
        { noAck: false },
      );
      attachment.consumerTag = consumerTag;
    } catch (error) {
      attachment.open = false;
      await closeQuietly(channel);
      throw toTransportError(error, `consuming from ${this.queue}`);
    }
    return attachment;
  }

  #onMessage(attachment: Attachment, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled us (the queue was deleted): nothing more comes on this channel. Let it go and
      // try to attach again (a few attempts: the queue may be declared again, e.g. after a reconnect).
      this.#context.logger.error({ source: describeSource(this.source) }, 'rabbitmq cancelled the consumer');
      attachment.consumerTag = undefined;
      if (attachment === this.#attachment && this.#state === 'running') {
        this.#state = 'detached';
        void closeQuietly(attachment.channel);
        void this.reattach();
      }
      return;
    }
    attachment.acks.delivered(message);
    const decoded = decodeMessage(message, {
      queue: this.queue,
      keys: this.#context.signing,
      retryExchange: this.#context.topology.retryExchange,
    });
    let envelope = decoded.envelope;
    if (
      this.source.kind === 'deadLetters' &&
      decoded.death !== undefined &&
      !envelope.headers[Header.errorMessage]
    ) {
      // Dead-lettered by the broker itself (delivery limit): record why, as `deadLetter` would have.
      envelope = withFailureHeaders(
        envelope,
        {
          message: `dead-lettered by RabbitMQ: ${decoded.death.reason} in ${decoded.death.queue}`,
          code: 'BROKER_DEAD_LETTER',
          attempts: decoded.attempt,
          failedAt: new Date(),
        },
        this.source.of,
      );
    }
    const delivery = new RabbitMqDelivery(this, attachment, message, envelope, decoded.attempt);
    if (attachment.gate.admit(envelope.key, delivery)) this.#handOut(attachment, delivery);
  }

  #handOut(attachment: Attachment, delivery: RabbitMqDelivery): void {
    // While closing, deliveries stay with the channel: closing it gives them back. (Deliveries may arrive
    // before `consume` has resolved: they are handed out like any other.)
    if (!attachment.open || this.#state === 'closing' || this.#state === 'closed') return;
    if (this.#paused) {
      attachment.held.push(delivery);
      return;
    }
    this.#sinkCalls.call(this.#sink, delivery);
  }

  settle(delivery: RabbitMqDelivery, outcome: DeliveryOutcome): Promise<void> {
    if (outcome.kind === 'ack') {
      this.#ack(delivery);
      this.#release(delivery);
      return DONE;
    }
    const settlement = this.#republish(delivery, outcome);
    this.#settlements.add(settlement);
    void settlement.then(
      () => this.#settlements.delete(settlement),
      () => this.#settlements.delete(settlement),
    );
    return settlement;
  }

  async #republish(
    delivery: RabbitMqDelivery,
    outcome: Exclude<DeliveryOutcome, { kind: 'ack' }>,
  ): Promise<void> {
    try {
      await this.#context.publisher.publish([await this.#copyFor(delivery, outcome)]);
    } catch (error) {
      // Not moved: give the original back to the queue rather than leave it stuck in this consumer.
      if (delivery.attachment.open) delivery.attachment.acks.requeue(delivery.message);
      this.#release(delivery);
      throw toTransportError(
        error,
        `${outcome.kind === 'retry' ? 'retrying' : 'dead-lettering'} ${delivery.envelope.id}`,
      );
    }
    this.#ack(delivery);
    this.#release(delivery);
  }

  async #copyFor(
    delivery: RabbitMqDelivery,
    outcome: Exclude<DeliveryOutcome, { kind: 'ack' }>,
  ): Promise<Outgoing> {
    if (outcome.kind === 'deadLetter') {
      // A dead letter that fails again goes back to the end of its own queue with the new reason.
      const deadLetters = this.source.kind === 'deadLetters' ? this.queue : deadLetterQueueOf(this.queue);
      const message = encodeEnvelope(withFailureHeaders(delivery.envelope, outcome.failure, this.source));
      return { exchange: '', routingKey: deadLetters, message };
    }
    const keys = this.#context.signing;
    const next = delivery.attempt + 1;
    const seal = keys === undefined ? undefined : sealAttempt(delivery.envelope.id, this.queue, next, keys);
    const message = encodeEnvelope(delivery.envelope, next, seal);
    const delayMs = Math.min(
      MAX_RETRY_DELAY_MS,
      Math.ceil(Number.isFinite(outcome.delayMs) ? outcome.delayMs : 0),
    );
    if (!(delayMs > 0)) {
      const exchange = await this.#context.topology.ensureRetryRoute(this.queue);
      return { exchange, routingKey: this.queue, message };
    }
    const retryQueue = await this.#context.topology.ensureRetryQueue(this.queue, retryBucketOf(delayMs));
    return {
      exchange: '',
      routingKey: retryQueue,
      message: { content: message.content, options: { ...message.options, expiration: String(delayMs) } },
    };
  }

  #ack(delivery: RabbitMqDelivery): void {
    // Once its channel is gone, the broker has put the message back already: nothing to ack.
    if (delivery.attachment.open) delivery.attachment.acks.ack(delivery.message);
  }

  /** The delivery is settled: the next parked delivery of its key may go. */
  #release(delivery: RabbitMqDelivery): void {
    const next = delivery.attachment.gate.release(delivery.envelope.key);
    if (next !== undefined) this.#handOut(delivery.attachment, next);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    const attachment = this.#attachment;
    if (attachment === undefined) return;
    for (const delivery of attachment.held.splice(0)) this.#handOut(attachment, delivery);
  }

  #onChannelClosed(attachment: Attachment): void {
    attachment.open = false;
    attachment.acks.close();
    if (attachment !== this.#attachment || this.#state !== 'running') return;
    this.#state = 'detached';
    // A channel lost on its own (the connection still up) is re-opened here; after a lost connection the
    // transport calls `reattach` once the connection and the topology are back.
    if (this.#context.connection.state === 'open') void this.reattach();
  }

  /**
   * Attaches again after the channel or connection was lost; does nothing unless detached. The transport
   * passes the new connection once it has recovered; without one, the current connection is used while it
   * is open (a few attempts), else the consumer waits for the transport's call.
   */
  reattach(model?: ChannelModel): Promise<void> {
    if (model !== undefined) this.#recovered = model;
    if (this.#state !== 'detached') return DONE;
    this.#reattaching ??= this.#reattach().finally(() => (this.#reattaching = undefined));
    return this.#reattaching;
  }

  async #reattach(): Promise<void> {
    // The old channel's sink calls finish first, so `concurrency` and per-key order hold across the gap.
    await this.#sinkCalls.whenIdle();
    for (let attempt = 1; this.#state === 'detached'; attempt++) {
      const recovered = this.#recovered;
      this.#recovered = undefined;
      // Reconnecting: the transport calls again when the connection is back.
      if (recovered === undefined && this.#context.connection.state !== 'open') return;
      try {
        const attachment = await this.#attach(recovered ?? this.#context.connection.model());
        if (this.#state !== 'detached') {
          attachment.open = false;
          await closeQuietly(attachment.channel);
          return;
        }
        this.#attachment = attachment;
        this.#state = 'running';
        this.#context.logger.info(
          { source: describeSource(this.source) },
          'rabbitmq consumer attached again',
        );
        return;
      } catch (error) {
        if (attempt >= REATTACH_ATTEMPTS && this.#recovered === undefined) {
          this.#context.logger.error(
            { source: describeSource(this.source), error: toOmnibusError(error).message },
            'rabbitmq consumer could not attach again',
          );
          return;
        }
        await delay(REATTACH_BACKOFF(attempt));
      }
    }
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#state = 'closing';
    const attachment = this.#attachment;
    if (attachment?.open === true && attachment.consumerTag !== undefined) {
      try {
        await attachment.channel.cancel(attachment.consumerTag);
      } catch {
        // The channel is gone already: nothing more will arrive.
      }
    }
    await this.#sinkCalls.whenIdle();
    while (this.#settlements.size > 0) await Promise.allSettled([...this.#settlements]);
    await this.#reattaching;
    if (attachment !== undefined) {
      attachment.acks.flush();
      attachment.open = false;
      // Closing the channel returns every unacked message (unsettled, parked or held) to the queue.
      await closeQuietly(attachment.channel);
    }
    this.#state = 'closed';
    this.#onClosed(this);
  }
}

async function closeQuietly(channel: Channel): Promise<void> {
  try {
    await channel.close();
  } catch {
    // Closed already.
  }
}
