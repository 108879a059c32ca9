import type { Delivery as RheaDelivery, EventContext, Message, Sender } from 'rhea';
import { TransportError } from '@omnibus/core';
import type { Amqp10Connection } from './amqp10-connection.js';
import { toTransportError } from './amqp10-errors.js';
import type { Terminus } from './amqp10-names.js';

interface Waiting {
  readonly message: Message;
  resolve(): void;
  reject(error: unknown): void;
}

/** One sender link per target address, and what waits on it. */
interface Link {
  readonly sender: Sender;
  readonly target: string;
  /** Resolves once the broker has attached the link (it exists, or was auto-created). */
  readonly attached: Promise<void>;
  /** Sent, waiting for the broker's disposition. */
  readonly unsettled: Map<RheaDelivery, Waiting>;
  /** Not sent yet: no link credit. */
  readonly queued: Waiting[];
}

/**
 * Publishes on unsettled sender links and resolves each message only when the broker has settled it
 * with `accepted` (for a durable message, Artemis settles after writing it to its journal). `rejected`,
 * `released` and `modified` reject; so does a connection drop for every message not yet accepted, which
 * the caller may publish again (at-least-once, never a false success).
 */
export class Amqp10Publisher {
  readonly #connection: Amqp10Connection;
  readonly #links = new Map<string, Link>();

  constructor(connection: Amqp10Connection) {
    this.#connection = connection;
    connection.onLost(() => this.#failAll('the connection to the broker was lost before it confirmed'));
  }

  /** Attaches (and so, on Artemis, auto-creates) the target; idempotent. */
  ensure(target: Terminus): Promise<void> {
    return this.#link(target).attached;
  }

  /** Resolves once the broker has accepted every message. */
  publish(target: Terminus, messages: readonly Message[]): Promise<void> {
    let link: Link;
    try {
      link = this.#link(target);
    } catch (error) {
      return Promise.reject(toTransportError(error, `publishing to ${target.address}`));
    }
    const sent = messages.map(
      (message) =>
        new Promise<void>((resolve, reject) => {
          const waiting: Waiting = { message, resolve, reject };
          if (link.queued.length === 0 && link.sender.sendable()) this.#send(link, waiting);
          else link.queued.push(waiting);
        }),
    );
    return sent.length === 1 ? sent[0]! : Promise.all(sent).then(() => undefined);
  }

  #link(target: Terminus): Link {
    const existing = this.#links.get(target.address);
    if (existing !== undefined) return existing;
    const connection = this.#connection.current(`publishing to ${target.address}`);
    const sender = connection.open_sender({
      target: { address: target.address, capabilities: [target.capability] },
      snd_settle_mode: 0,
    } as never);
    let attached!: () => void;
    let refused!: (error: unknown) => void;
    const link: Link = {
      sender,
      target: target.address,
      attached: new Promise<void>((resolve, reject) => {
        attached = resolve;
        refused = reject;
      }),
      unsettled: new Map(),
      queued: [],
    };
    link.attached.catch(() => undefined);
    this.#links.set(target.address, link);
    sender.on('sender_open', () => attached());
    sender.on('sendable', () => this.#flush(link));
    sender.on('accepted', (context: EventContext) => this.#settled(link, context, undefined));
    for (const outcome of ['rejected', 'released', 'modified'] as const) {
      sender.on(outcome, (context: EventContext) => this.#settled(link, context, outcome));
    }
    const fail = (context: EventContext): void => {
      const error = toTransportError(
        context.sender?.error ?? new Error('link closed'),
        `sending to ${target.address}`,
      );
      this.#links.delete(target.address);
      refused(error);
      this.#failLink(link, error);
    };
    sender.on('sender_error', fail);
    sender.on('sender_close', fail);
    return link;
  }

  #send(link: Link, waiting: Waiting): void {
    const delivery = link.sender.send(waiting.message);
    link.unsettled.set(delivery, waiting);
  }

  #flush(link: Link): void {
    while (link.queued.length > 0 && link.sender.sendable()) this.#send(link, link.queued.shift()!);
  }

  #settled(
    link: Link,
    context: EventContext,
    refusal: 'rejected' | 'released' | 'modified' | undefined,
  ): void {
    const delivery = context.delivery;
    if (delivery === undefined) return;
    const waiting = link.unsettled.get(delivery);
    if (waiting === undefined) return;
    link.unsettled.delete(delivery);
    if (refusal === undefined) {
      waiting.resolve();
      return;
    }
    const error = (delivery.remote_state as { error?: unknown } | undefined)?.error;
    waiting.reject(
      error !== undefined
        ? toTransportError(error, `the broker ${refusal} a message to ${link.target}`)
        : new TransportError(`the broker ${refusal} a message to ${link.target}`, {
            code: 'NOT_CONFIRMED',
            retriable: refusal !== 'rejected',
          }),
    );
  }

  #failLink(link: Link, error: unknown): void {
    for (const waiting of link.unsettled.values()) waiting.reject(error);
    link.unsettled.clear();
    for (const waiting of link.queued.splice(0)) waiting.reject(error);
  }

  #failAll(why: string): void {
    const error = new TransportError(why, { code: 'NOT_CONFIRMED', retriable: true });
    // rhea re-attaches the links on the new connection, but forgets what was unsettled on the old one.
    for (const link of this.#links.values()) this.#failLink(link, error);
  }

  close(reason: string): void {
    const error = new TransportError(reason, { code: 'TRANSPORT_CLOSED', retriable: false });
    for (const link of this.#links.values()) {
      this.#failLink(link, error);
      link.sender.close();
    }
    this.#links.clear();
  }
}
