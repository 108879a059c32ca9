/** Bare rhea, the raw client the ActiveMQ Artemis benches measure Omnibus against. */
import rhea from 'rhea';
import type { Connection, Delivery, EventContext, Message, Sender } from 'rhea';

/** A plain rhea connection to the AMQP 1.0 broker at `url` (`amqp://user:password@host:port`). */
export function rawConnection(url: string): Promise<Connection> {
  const parsed = new URL(url);
  const connection = rhea.create_container().connect({
    host: parsed.hostname,
    port: Number(parsed.port || 5672),
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  });
  return new Promise((resolve, reject) => {
    connection.once('connection_open', () => resolve(connection));
    connection.once('disconnected', () => reject(new Error(`no AMQP 1.0 broker at ${parsed.host}`)));
  });
}

/**
 * A sender to `address` (an anycast `queue` or a multicast `topic`) whose `send` resolves on the broker's
 * `accepted`, rejects on any other outcome, and waits for credit when there is none.
 */
export function settledSender(
  connection: Connection,
  address: string,
  capability: 'queue' | 'topic',
): Promise<(message: Message) => Promise<void>> {
  const sender: Sender = connection.open_sender({ target: { address, capabilities: [capability] } });
  const pending = new Map<Delivery, { resolve: () => void; reject: (error: Error) => void }>();
  const waitingForCredit: (() => void)[] = [];
  sender.on('accepted', (context: EventContext) => {
    pending.get(context.delivery!)?.resolve();
    pending.delete(context.delivery!);
  });
  for (const outcome of ['rejected', 'released', 'modified'] as const) {
    sender.on(outcome, (context: EventContext) => {
      pending.get(context.delivery!)?.reject(new Error(`${outcome} by the broker`));
      pending.delete(context.delivery!);
    });
  }
  sender.on('sendable', () => {
    while (waitingForCredit.length > 0 && sender.sendable()) waitingForCredit.shift()!();
  });
  const send = async (message: Message): Promise<void> => {
    while (!sender.sendable()) await new Promise<void>((resolve) => waitingForCredit.push(resolve));
    const delivery = sender.send(message);
    return new Promise<void>((resolve, reject) => pending.set(delivery, { resolve, reject }));
  };
  return new Promise((resolve) => sender.once('sender_open', () => resolve(send)));
}
