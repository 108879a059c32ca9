/**
 * Request/reply on ActiveMQ Artemis (AMQP 1.0) for `npm run bench -- rpc activemq`: the bus's amqp10
 * transport and bare rhea doing the same pattern, against the broker at OMNIBUS_AMQP10_URL (default the
 * lab's). Every address of a run starts with one prefix and is deleted at its end through Artemis's
 * management address (the lab's user has the `manage` permission).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import rhea from 'rhea';
import type { Connection, EventContext, Message } from 'rhea';
import { Amqp10Transport } from '@omnibus/amqp10';
import { rawConnection, settledSender } from '../rhea-client.js';

const url = process.env.OMNIBUS_AMQP10_URL ?? 'amqp://omnibus:omnibus@127.0.0.1:5673';
/** Every address of this run starts with it (the transport's `namePrefix` too). */
const prefix = `bench-rpc-${randomBytes(4).toString('hex')}-`;
/** The responder's link credit: the handler's concurrency in the bus. */
const CREDIT = 64;

export const activemqTransport = (): Amqp10Transport => new Amqp10Transport({ url, namePrefix: prefix });

/**
 * Bare rhea, the classic AMQP 1.0 RPC: a durable anycast request queue; the requester reads replies
 * from a dynamic receiver (a temporary queue the broker makes and names, as the transport's reply
 * address) with automatic accepts, and sends durable requests with `reply_to` and `correlation_id`,
 * each awaited until the broker's `accepted`. The responder, on its own connection, reads the request
 * queue with link credit 64 and manual accepts: it sends the durable reply to `reply_to` (one sender per
 * reply address), waits for its `accepted`, and only then accepts the request (acks after handling).
 */
export async function rawActivemq() {
  const requestQueue = `${prefix}raw-requests-${randomUUID()}`;
  const [responder, requester] = await Promise.all([rawConnection(url), rawConnection(url)]);
  const replySenders = new Map<string, Promise<(message: Message) => Promise<void>>>();
  const replyTo = (address: string) => {
    let send = replySenders.get(address);
    if (send === undefined) replySenders.set(address, (send = settledSender(responder, address, 'queue')));
    return send;
  };
  const requests = responder.open_receiver({
    source: { address: requestQueue, capabilities: ['queue'] },
    credit_window: CREDIT,
    autoaccept: false,
  });
  requests.on('message', (context: EventContext) => {
    const request = context.message!;
    const delivery = context.delivery!;
    void replyTo(String(request.reply_to))
      .then((send) =>
        send({
          durable: true,
          correlation_id: request.correlation_id,
          content_type: 'application/json',
          body: rhea.message.data_section((request.body as { content: Buffer }).content) as unknown,
        }),
      )
      .then(
        () => delivery.accept(),
        (error: unknown) => {
          console.error('raw rhea reply failed', error);
          delivery.release();
        },
      );
  });
  const pending = new Map<string, () => void>();
  const replies = requester.open_receiver({ source: { dynamic: true } as never, autoaccept: true });
  replies.on('message', (context: EventContext) => {
    const correlation = String(context.message!.correlation_id);
    pending.get(correlation)?.();
    pending.delete(correlation);
  });
  const [replyAddress] = await Promise.all([
    new Promise<string>((resolve) => replies.once('receiver_open', () => resolve(replies.source.address))),
    new Promise<void>((resolve) => requests.once('receiver_open', () => resolve())),
  ]);
  const send = await settledSender(requester, requestQueue, 'queue');
  const encoder = new TextEncoder();
  return {
    ask: async (n: number) => {
      const correlation = randomUUID();
      const replied = new Promise<void>((resolve) => pending.set(correlation, resolve));
      await send({
        message_id: correlation,
        correlation_id: correlation,
        reply_to: replyAddress,
        durable: true,
        content_type: 'application/json',
        body: rhea.message.data_section(Buffer.from(encoder.encode(JSON.stringify({ n })))) as unknown,
      });
      await replied;
    },
    close: async () => {
      const closed = (connection: Connection) =>
        new Promise<void>((resolve) => {
          connection.once('connection_close', () => resolve());
          connection.close();
        });
      await Promise.all([closed(requester), closed(responder)]);
    },
  };
}

/**
 * Deletes every address of this run with its queues (the bus's query and dead-letter queues, the raw
 * request queue), by `deleteAddress(name, force)` requests to `activemq.management`.
 */
export async function deleteActivemqRun(): Promise<void> {
  const connection = await rawConnection(url);
  try {
    const replies = connection.open_receiver({ source: { dynamic: true } as never });
    const replyTo = await new Promise<string>((resolve) =>
      replies.once('receiver_open', () => resolve(replies.source.address)),
    );
    const sender = connection.open_sender({ target: { address: 'activemq.management' } });
    await new Promise<void>((resolve) => sender.once('sendable', () => resolve()));
    const waiting = new Map<string, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
    replies.on('message', (context: EventContext) => {
      const message = context.message!;
      const request = waiting.get(String(message.correlation_id));
      waiting.delete(String(message.correlation_id));
      const body = typeof message.body === 'string' ? message.body : String(message.body);
      const properties = message.application_properties as Record<string, unknown> | undefined;
      if (properties?._AMQ_OperationSucceeded !== true) {
        request?.reject(new Error(`Artemis management refused: ${body}`));
        return;
      }
      try {
        // An attribute comes back as `[value]`; an operation without a result as `null`.
        const result = JSON.parse(body) as unknown;
        request?.resolve(Array.isArray(result) ? result[0] : result);
      } catch (error) {
        request?.reject(error as Error);
      }
    });
    let next = 0;
    const manage = (properties: Record<string, string>, parameters: unknown[]) =>
      new Promise<unknown>((resolve, reject) => {
        const id = `rpc-cleanup-${++next}`;
        waiting.set(id, { resolve, reject });
        sender.send({
          message_id: id,
          reply_to: replyTo,
          application_properties: { _AMQ_ResourceName: 'broker', ...properties },
          body: JSON.stringify(parameters),
        });
      });
    const addresses = (await manage({ _AMQ_Attribute: 'addressNames' }, [])) as string[];
    for (const address of addresses.filter((name) => name.startsWith(prefix))) {
      await manage({ _AMQ_OperationName: 'deleteAddress' }, [address, true]);
    }
  } finally {
    connection.close();
  }
}
