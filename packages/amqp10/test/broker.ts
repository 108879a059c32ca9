import rhea from 'rhea';
import type { Connection } from 'rhea';

/** The broker lab's Artemis (`scripts/brokers up activemq`), or `OMNIBUS_AMQP10_URL`. */
export const url = process.env.OMNIBUS_AMQP10_URL?.trim() || 'amqp://omnibus:omnibus@127.0.0.1:5673';

/** A plain rhea connection, no Omnibus code: the foreign client of the tests. */
export function rawConnection(): Promise<Connection> {
  const parsed = new URL(url);
  const connection = rhea.create_container().connect({
    host: parsed.hostname,
    port: Number(parsed.port || 5672),
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    reconnect: false,
  });
  return new Promise((resolve, reject) => {
    connection.once('connection_open', () => resolve(connection));
    connection.once('disconnected', () => reject(new Error(`no AMQP 1.0 broker at ${parsed.host}`)));
  });
}

export async function probeBroker(): Promise<void> {
  const connection = await rawConnection();
  connection.close();
}
