import type { Channel, ChannelModel } from 'amqplib';
import type { Destination, Logger } from '@omnibus/core';
import { OmnibusError, TransportError, describeDestination, toOmnibusError } from '@omnibus/core';
import type { Topology } from '@omnibus/core/transport';
import type { RabbitMqConnection } from './rabbitmq-connection.js';
import { ReplyCode, replyCodeOf, toTransportError } from './rabbitmq-errors.js';
import type { RabbitMqNames } from './rabbitmq-names.js';
import { deadLetterQueueOf, retryQueueOf } from './rabbitmq-names.js';

type Declaration =
  | { readonly kind: 'exchange'; readonly name: string; readonly direct?: true }
  | { readonly kind: 'queue'; readonly name: string; readonly arguments: Readonly<Record<string, unknown>> }
  | { readonly kind: 'binding'; readonly queue: string; readonly exchange: string; readonly pattern: string };

/**
 * Declares the RabbitMQ objects behind a `Topology`, remembers them, and declares them again after a
 * reconnect (a broker that lost its data gets them back).
 *
 * - channel → durable topic exchange;
 * - command queue and subscriber group → durable quorum queue, dead-lettering (broker-side, at least
 *   once) to `<queue>.dlq` after `deliveryLimit` unsettled deliveries; single active consumer when
 *   ordered. The topology's `maxDeliveries` is not used: RabbitMQ refuses to redeclare a queue with
 *   another limit, and the bus derives that number from handler retry policies, which change with code;
 *   RabbitMQ's count is per copy anyway (a retry republishes), so it only ever catches crash loops;
 * - a group's queue is bound to the channel's exchange by each event type it handles (routing key = type),
 *   or by `#` when the topology names no types;
 * - on a queue's first retry: the direct exchange `omnibus/retry` (see `RabbitMqNames.retryExchange`) and
 *   the queue's binding to it by its name; delayed-retry queues `<queue>.delay.<ms>`, dead-lettering
 *   through that exchange, on first use of their delay.
 *
 * Declarations run on a channel of their own, so a refusal (406 PRECONDITION_FAILED: the queue exists
 * with other arguments) closes only that channel and surfaces as a `TransportError` with code
 * `INCOMPATIBLE_TOPOLOGY`, never as a crash of the channels that publish and consume. RabbitMQ does not
 * change an existing queue's arguments, and neither do we, silently.
 */
export class RabbitMqProvisioner {
  readonly #connection: RabbitMqConnection;
  readonly #names: RabbitMqNames;
  readonly #logger: Logger;
  readonly #deliveryLimit: number;
  /** Everything declared, in declaration order (exchanges and queues before their bindings). */
  readonly #declared = new Map<string, Declaration>();
  readonly #orderedChannels = new Set<string>();
  /** Destinations checked to exist, and retry queues being declared. */
  readonly #pending = new Map<string, Promise<void>>();

  constructor(connection: RabbitMqConnection, names: RabbitMqNames, deliveryLimit: number, logger: Logger) {
    this.#connection = connection;
    this.#deliveryLimit = deliveryLimit;
    this.#names = names;
    this.#logger = logger;
  }

  async provision(topology: Topology): Promise<void> {
    const ordered = new Set(this.#orderedChannels);
    for (const channel of topology.channels ?? []) if (channel.ordered === true) ordered.add(channel.name);
    const plan = new Map<string, Declaration>();
    const add = (declaration: Declaration): void => {
      const key = keyOf(declaration);
      if (!plan.has(key) && !sameAs(this.#declared.get(key), declaration)) plan.set(key, declaration);
    };
    for (const channel of topology.channels ?? [])
      add({ kind: 'exchange', name: this.#names.exchange(channel.name) });
    for (const queue of topology.queues ?? []) {
      const name = this.#names.queue({ kind: 'queue', queue: queue.name });
      add(workQueue(name, queue.ordered === true, this.#deliveryLimit));
      add(deadLetterQueue(name));
    }
    for (const subscription of topology.subscriptions ?? []) {
      const exchange = this.#names.exchange(subscription.channel);
      const name = this.#names.queue({ kind: 'subscription', ...subscription });
      add({ kind: 'exchange', name: exchange });
      add(workQueue(name, ordered.has(subscription.channel), this.#deliveryLimit));
      add(deadLetterQueue(name));
      const patterns =
        subscription.types === undefined || subscription.types.length === 0 ? ['#'] : subscription.types;
      for (const pattern of patterns) add({ kind: 'binding', queue: name, exchange, pattern });
    }
    if (plan.size > 0) await this.#apply(this.#connection.model(), [...plan.values()], true);
    for (const [key, declaration] of plan) this.#declared.set(key, declaration);
    for (const name of ordered) this.#orderedChannels.add(name);
  }

  /** After a reconnect: declare everything again; a refusal is logged and the rest still declared. */
  async redeclare(model: ChannelModel): Promise<void> {
    this.#pending.clear();
    if (this.#declared.size > 0) await this.#apply(model, [...this.#declared.values()], false);
  }

  /**
   * Resolves once `destination` is known to exist: declared by this transport, or found by a passive
   * declare (cached). Returns `undefined` when nothing needs waiting for. A missing one is `NOT_PROVISIONED`.
   */
  ensureDestination(destination: Destination): Promise<void> | undefined {
    const key =
      destination.kind === 'channel'
        ? `exchange:${this.#names.exchange(destination.channel)}`
        : `queue:${this.#names.queue(destination)}`;
    if (this.#declared.has(key)) return undefined;
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = this.#check(destination);
      this.#pending.set(key, pending);
      pending.catch(() => this.#pending.delete(key));
    }
    return pending;
  }

  async #check(destination: Destination): Promise<void> {
    const channel = await this.#openChannel(this.#connection.model());
    try {
      if (destination.kind === 'channel')
        await channel.checkExchange(this.#names.exchange(destination.channel));
      else await channel.checkQueue(this.#names.queue(destination));
    } catch (error) {
      if (replyCodeOf(error) === ReplyCode.notFound) {
        throw new TransportError(`${describeDestination(destination)} is not provisioned`, {
          code: 'NOT_PROVISIONED',
          retriable: false,
          cause: error,
        });
      }
      throw toTransportError(error, `checking ${describeDestination(destination)}`);
    } finally {
      await closeQuietly(channel);
    }
  }

  /** The exchange of our retry route (see `RabbitMqNames.retryExchange`). */
  get retryExchange(): string {
    return this.#names.retryExchange;
  }

  /**
   * The exchange retried copies of `workQueue` are published to, with the queue's name as routing key;
   * it and the queue's binding are declared on first use (the queue may have been declared by another
   * process or an older version).
   */
  ensureRetryRoute(workQueue: string): Promise<string> | string {
    const exchange = this.#names.retryExchange;
    const pending = this.#ensure([
      { kind: 'exchange', name: exchange, direct: true },
      { kind: 'binding', queue: workQueue, exchange, pattern: workQueue },
    ]);
    return pending === undefined ? exchange : pending.then(() => exchange);
  }

  /** The retry queue of `workQueue` for `bucketMs`, declared (with the retry route) on first use. */
  ensureRetryQueue(workQueue: string, bucketMs: number): Promise<string> | string {
    const declaration = retryQueue(workQueue, bucketMs, this.#names.retryExchange);
    const route = this.ensureRetryRoute(workQueue);
    const pending = this.#ensure([declaration]);
    if (typeof route === 'string' && pending === undefined) return declaration.name;
    return Promise.all([route, pending]).then(() => declaration.name);
  }

  /** Declares what of `plan` is not declared yet, once however many ask at the same time. */
  #ensure(plan: readonly Declaration[]): Promise<void> | undefined {
    const missing = plan.filter((declaration) => !this.#declared.has(keyOf(declaration)));
    if (missing.length === 0) return undefined;
    const key = missing.map(keyOf).join('\n');
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = this.#apply(this.#connection.model(), missing, true).then(() => {
        for (const declaration of missing) this.#declared.set(keyOf(declaration), declaration);
      });
      this.#pending.set(key, pending);
      void pending.finally(() => this.#pending.delete(key)).catch(() => undefined);
    }
    return pending;
  }

  async #apply(model: ChannelModel, plan: readonly Declaration[], failFast: boolean): Promise<void> {
    let channel: Channel | undefined;
    try {
      for (const declaration of plan) {
        channel ??= await this.#openChannel(model);
        try {
          await declare(channel, declaration);
        } catch (error) {
          const explained = explain(error, declaration);
          if (failFast || !(explained instanceof OmnibusError) || explained.retriable) throw explained;
          this.#logger.error(
            { error: explained.message, code: explained.code },
            'rabbitmq declaration refused',
          );
          channel = undefined; // the refusal closed it
        }
      }
    } catch (error) {
      throw toOmnibusError(error);
    } finally {
      if (channel !== undefined) await closeQuietly(channel);
    }
  }

  async #openChannel(model: ChannelModel): Promise<Channel> {
    let channel: Channel;
    try {
      channel = await model.createChannel();
    } catch (error) {
      throw toTransportError(error, 'opening a channel');
    }
    // A refused declaration closes the channel with an error event; the failed call reports it.
    channel.on('error', () => undefined);
    return channel;
  }
}

function workQueue(name: string, ordered: boolean, deliveryLimit: number): Declaration {
  return {
    kind: 'queue',
    name,
    arguments: {
      'x-queue-type': 'quorum',
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': deadLetterQueueOf(name),
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
      'x-delivery-limit': deliveryLimit,
      ...(ordered ? { 'x-single-active-consumer': true } : {}),
    },
  };
}

function deadLetterQueue(workQueueName: string): Declaration {
  return { kind: 'queue', name: deadLetterQueueOf(workQueueName), arguments: { 'x-queue-type': 'quorum' } };
}

/**
 * Holds retried copies until their per-message TTL expires, then dead-letters them back to the work queue
 * through the retry exchange, so that they arrive by our retry route.
 */
function retryQueue(
  workQueueName: string,
  bucketMs: number,
  retryExchange: string,
): Extract<Declaration, { kind: 'queue' }> {
  return {
    kind: 'queue',
    name: retryQueueOf(workQueueName, bucketMs),
    arguments: {
      'x-queue-type': 'quorum',
      'x-dead-letter-exchange': retryExchange,
      'x-dead-letter-routing-key': workQueueName,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    },
  };
}

async function declare(channel: Channel, declaration: Declaration): Promise<void> {
  switch (declaration.kind) {
    case 'exchange':
      await channel.assertExchange(declaration.name, declaration.direct === true ? 'direct' : 'topic', {
        durable: true,
      });
      return;
    case 'queue':
      await channel.assertQueue(declaration.name, { durable: true, arguments: declaration.arguments });
      return;
    case 'binding':
      await channel.bindQueue(declaration.queue, declaration.exchange, declaration.pattern);
      return;
  }
}

function explain(error: unknown, declaration: Declaration): OmnibusError {
  if (replyCodeOf(error) === ReplyCode.preconditionFailed) {
    const what =
      declaration.kind === 'exchange'
        ? `exchange ${declaration.name} exists with another type or durability (wanted: a durable ${declaration.direct === true ? 'direct' : 'topic'} exchange)`
        : declaration.kind === 'queue'
          ? `queue ${declaration.name} exists with other arguments (wanted: durable, ${JSON.stringify(declaration.arguments)}); ` +
            'RabbitMQ cannot change them in place: delete and re-create the queue, or change it by policy'
          : `binding of ${declaration.queue} to ${declaration.exchange} was refused`;
    return new TransportError(what, { code: 'INCOMPATIBLE_TOPOLOGY', retriable: false, cause: error });
  }
  const target =
    declaration.kind === 'binding'
      ? `binding ${declaration.queue} to ${declaration.exchange} by ${declaration.pattern}`
      : `${declaration.kind} ${declaration.name}`;
  return toTransportError(error, `declaring ${target}`);
}

function keyOf(declaration: Declaration): string {
  return declaration.kind === 'binding'
    ? `binding:${declaration.queue}\u0000${declaration.exchange}\u0000${declaration.pattern}`
    : `${declaration.kind}:${declaration.name}`;
}

function sameAs(known: Declaration | undefined, wanted: Declaration): boolean {
  if (known === undefined) return false;
  if (known.kind !== 'queue' || wanted.kind !== 'queue') return true; // same key, nothing else to compare
  return JSON.stringify(known.arguments) === JSON.stringify(wanted.arguments);
}

async function closeQuietly(channel: Channel): Promise<void> {
  try {
    await channel.close();
  } catch {
    // Closed already (a refused declaration, or the connection went).
  }
}
