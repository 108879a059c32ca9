import type { ConfirmChannel, Message } from 'amqplib';
import type { Logger, OmnibusError } from '@omnibus/core';
import { TransportError } from '@omnibus/core';
import { DONE } from '@omnibus/core/transport';
import type { RabbitMqConnection } from './rabbitmq-connection.js';
import { toTransportError } from './rabbitmq-errors.js';
import type { EncodedMessage } from './rabbitmq-codec.js';
import type { PublishFn } from './amqplib-publish.js';
import { directPublish, plainPublish } from './amqplib-publish.js';

/** One message to publish: to an exchange with a routing key, or to a queue (exchange `''`, key = queue). */
export interface Outgoing {
  readonly exchange: string;
  readonly routingKey: string;
  readonly message: EncodedMessage;
}

/** The state of one confirm channel: publishes waiting for a possible `basic.return`, by message id. */
interface Confirming {
  readonly channel: ConfirmChannel;
  /** Writes one publish on `channel` (see `directPublish`). */
  readonly publish: PublishFn;
  /** By message id: usually one publish per id, an array when ids repeat. */
  readonly awaitingReturn: Map<string, Pending | Pending[]>;
}

interface Pending {
  readonly id: string;
  /** Where it went: with a repeated id, a return is matched to the publish of its exchange and key. */
  readonly exchange: string;
  readonly routingKey: string;
  returned: { replyCode: number; replyText: string } | undefined;
}

/** Counts the confirms of one `publish` call; settles once all are in, with the first failure if any. */
class Batch {
  readonly confirmed: Promise<void>;
  #outstanding: number;
  #failure: OmnibusError | undefined;
  #resolve!: () => void;
  #reject!: (error: OmnibusError) => void;

  constructor(count: number) {
    this.#outstanding = count;
    this.confirmed = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  done(error: OmnibusError | undefined): void {
    this.#failure ??= error;
    if (--this.#outstanding === 0) {
      if (this.#failure === undefined) this.#resolve();
      else this.#reject(this.#failure);
    }
  }
}

/**
 * Publishes through one shared confirm channel. `publish` resolves when the broker has confirmed every
 * message of the call (quorum queues confirm once a majority has written it); it rejects with a
 * `TransportError` when one is nacked, returned as unroutable (`mandatory`), or left unconfirmed because
 * the channel or connection closed: never reports an unconfirmed message as sent. When the socket's write
 * buffer is full it waits for `drain` before writing more. A closed channel is replaced on next use.
 */
export class ConfirmPublisher {
  readonly #connection: RabbitMqConnection;
  readonly #logger: Logger;
  #current: Promise<Confirming> | undefined;
  /** The open channel, once `#current` has resolved. */
  #ready: Confirming | undefined;
  /** Whether the fallback to `channel.publish` has been logged. */
  #warned = false;

  constructor(connection: RabbitMqConnection, logger: Logger) {
    this.#connection = connection;
    this.#logger = logger;
  }

  publish(messages: readonly Outgoing[]): Promise<void> {
    if (messages.length === 0) return DONE;
    // The common case, an open channel, writes synchronously: no promise hop before the socket.
    const ready = this.#ready;
    if (ready !== undefined) return this.#send(ready, messages);
    return this.#open().then((confirming) => this.#send(confirming, messages));
  }

  #send(confirming: Confirming, messages: readonly Outgoing[]): Promise<void> {
    const batch = new Batch(messages.length);
    const stoppedAt = this.#write(confirming, messages, 0, batch);
    if (stoppedAt < messages.length) void this.#writeAfterDrain(confirming, messages, stoppedAt, batch);
    return batch.confirmed;
  }

  /** Writes from `start` until done or the socket buffer is full; returns where it stopped. */
  #write(confirming: Confirming, messages: readonly Outgoing[], start: number, batch: Batch): number {
    const { publish, awaitingReturn } = confirming;
    for (let i = start; i < messages.length; i++) {
      const { exchange, routingKey, message } = messages[i]!;
      const pending: Pending = {
        id: message.options.messageId ?? '',
        exchange,
        routingKey,
        returned: undefined,
      };
      remember(awaitingReturn, pending);
      let more: boolean;
      try {
        more = publish(exchange, routingKey, message.content, message.options, (error: unknown) => {
          forget(awaitingReturn, pending);
          if (error !== null && error !== undefined) {
            batch.done(
              new TransportError(`publish to ${target(exchange, routingKey)} not confirmed by RabbitMQ`, {
                code: 'NOT_CONFIRMED',
                retriable: true,
                cause: error,
              }),
            );
          } else if (pending.returned !== undefined) {
            batch.done(unroutable(exchange, routingKey, pending.returned));
          } else {
            batch.done(undefined);
          }
        });
      } catch (error) {
        forget(awaitingReturn, pending);
        const failed = toTransportError(error, `publishing to ${target(exchange, routingKey)}`);
        // Nothing from this message on was written: count them all as failed.
        for (let rest = i; rest < messages.length; rest++) batch.done(failed);
        return messages.length;
      }
      if (!more) return i + 1;
    }
    return messages.length;
  }

  async #writeAfterDrain(confirming: Confirming, messages: readonly Outgoing[], from: number, batch: Batch) {
    let next = from;
    while (next < messages.length) {
      await drained(confirming.channel);
      next = this.#write(confirming, messages, next, batch);
    }
  }

  #open(): Promise<Confirming> {
    this.#current ??= this.#create().catch((error: unknown) => {
      this.#current = undefined;
      throw error;
    });
    return this.#current;
  }

  async #create(): Promise<Confirming> {
    const model = this.#connection.model();
    let channel: ConfirmChannel;
    try {
      channel = await model.createConfirmChannel();
    } catch (error) {
      throw toTransportError(error, 'opening the publishing channel');
    }
    channel.setMaxListeners(0); // one `drain` listener per waiting publish call
    const confirming: Confirming = { channel, publish: this.#publishOn(channel), awaitingReturn: new Map() };
    const current = this.#current;
    channel.on('error', (error: Error) => {
      this.#logger.warn({ error: error.message }, 'rabbitmq publishing channel closed by the broker');
    });
    channel.on('close', () => {
      if (this.#current === current) this.#current = undefined;
      if (this.#ready === confirming) this.#ready = undefined;
    });
    // RabbitMQ sends `basic.return` before the confirm of the same message, on the same channel.
    channel.on('return', (message: Message) => {
      const id = typeof message.properties.messageId === 'string' ? message.properties.messageId : '';
      const waiting = confirming.awaitingReturn.get(id);
      // A publish still waiting for its confirm may share the id (one to a quorum queue confirms later
      // than an unroutable one is returned): the return belongs to the one sent where it was returned from.
      const pending = Array.isArray(waiting)
        ? waiting.find(
            (p) =>
              p.returned === undefined &&
              p.exchange === message.fields.exchange &&
              p.routingKey === message.fields.routingKey,
          )
        : waiting;
      if (pending !== undefined) {
        const fields = message.fields as unknown as { replyCode?: number; replyText?: string };
        pending.returned = { replyCode: fields.replyCode ?? 0, replyText: fields.replyText ?? 'returned' };
      }
    });
    this.#ready = confirming;
    return confirming;
  }

  #publishOn(channel: ConfirmChannel): PublishFn {
    const direct = directPublish(channel);
    if (direct !== undefined) return direct;
    if (!this.#warned) {
      this.#warned = true;
      this.#logger.warn(
        { pinned: 'amqplib 2.3.1' },
        'rabbitmq: this amqplib lacks the channel internals the driver publishes through; using channel.publish (slower with headers)',
      );
    }
    return plainPublish(channel);
  }

  /** Forgets the channel after a reconnect; the next publish opens a new one. */
  reset(): void {
    this.#current = undefined;
    this.#ready = undefined;
  }

  async close(): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    this.#ready = undefined;
    if (current === undefined) return;
    try {
      const { channel } = await current;
      await channel.close();
    } catch {
      // Never opened, or closed with the connection.
    }
  }
}

function remember(awaitingReturn: Map<string, Pending | Pending[]>, pending: Pending): void {
  const waiting = awaitingReturn.get(pending.id);
  if (waiting === undefined) awaitingReturn.set(pending.id, pending);
  else if (Array.isArray(waiting)) waiting.push(pending);
  else awaitingReturn.set(pending.id, [waiting, pending]);
}

function forget(awaitingReturn: Map<string, Pending | Pending[]>, pending: Pending): void {
  const waiting = awaitingReturn.get(pending.id);
  if (waiting === pending) {
    awaitingReturn.delete(pending.id);
  } else if (Array.isArray(waiting)) {
    const index = waiting.indexOf(pending);
    if (index >= 0) waiting.splice(index, 1);
    if (waiting.length === 0) awaitingReturn.delete(pending.id);
  }
}

/** Resolves when the socket accepts writes again, or the channel closes (publishing then fails fast). */
function drained(channel: ConfirmChannel): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      channel.removeListener('drain', done);
      channel.removeListener('close', done);
      resolve();
    };
    channel.once('drain', done);
    channel.once('close', done);
  });
}

function target(exchange: string, routingKey: string): string {
  return exchange === '' ? `queue ${routingKey}` : `exchange ${exchange} (routing key ${routingKey})`;
}

function unroutable(
  exchange: string,
  routingKey: string,
  returned: { replyCode: number; replyText: string },
): TransportError {
  const where =
    exchange === ''
      ? `queue ${routingKey} does not exist`
      : `no queue is bound to exchange ${exchange} for routing key ${routingKey} (no subscriber group yet?)`;
  return new TransportError(
    `message returned as unroutable: ${where} (${returned.replyCode} ${returned.replyText})`,
    {
      code: exchange === '' ? 'NOT_PROVISIONED' : 'UNROUTABLE',
      retriable: true,
      cause: returned,
    },
  );
}
