import type { Connection, ConnectionOptions, EventContext } from 'rhea';
import rhea from 'rhea';
import type { ResolvedAmqp10Options } from './amqp10-options.js';
import { DONE, TransportClosedError, coalesceSocketWrites } from '@omnibus/core/transport';
import { notConnected, toTransportError } from './amqp10-errors.js';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * One rhea connection that heals itself: rhea reconnects with a doubling delay (100 ms up to
 * `maxReconnectDelayMs`) and re-attaches every link that was not closed. Listeners hear each loss and
 * each (re)open, so the publisher can fail what was unconfirmed and consumers can grant credit again.
 */
export class Amqp10Connection {
  readonly #options: ResolvedAmqp10Options;
  #connection: Connection | undefined;
  #state: ConnectionState = 'idle';
  #opening: Promise<void> | undefined;
  #recoveries = 0;
  #lastError: string | undefined;
  readonly #lost = new Set<() => void>();
  readonly #opened = new Set<() => void>();

  constructor(options: ResolvedAmqp10Options) {
    this.#options = options;
  }

  get state(): ConnectionState {
    return this.#state;
  }
  get recoveries(): number {
    return this.#recoveries;
  }
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Called whenever the connection drops (before rhea tries again). */
  onLost(listener: () => void): void {
    this.#lost.add(listener);
  }
  /** Called whenever the connection is open again after a drop. */
  onReopened(listener: () => void): void {
    this.#opened.add(listener);
  }

  /** Connects; rejects with a `TransportError` if the first attempt fails (refused, bad login, TLS). */
  open(signal?: AbortSignal): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new TransportClosedError('amqp10'));
    if (this.#opening !== undefined) return this.#opening;
    if (this.#connection !== undefined) return DONE;
    this.#opening = this.#open(signal).finally(() => (this.#opening = undefined));
    return this.#opening;
  }

  /** Whether no connection was made yet (or the first attempt failed): the next use connects. */
  get neverConnected(): boolean {
    return this.#state === 'idle' || this.#state === 'connecting';
  }

  #open(signal?: AbortSignal): Promise<void> {
    const o = this.#options;
    this.#state = 'connecting';
    const container = rhea.create_container({ id: o.containerId });
    const settings: ConnectionOptions = {
      host: o.host,
      port: o.port,
      reconnect: true,
      initial_reconnect_delay: 100,
      max_reconnect_delay: o.maxReconnectDelayMs,
      idle_time_out: 30_000,
      ...(o.username === undefined ? {} : { username: o.username, password: o.password ?? '' }),
      ...(o.secure ? { transport: 'tls' as const, ...o.tls, servername: o.tls?.servername ?? o.host } : {}),
    } as ConnectionOptions;
    return new Promise<void>((resolve, reject) => {
      let first = true;
      const connection = container.connect(settings);
      this.#connection = connection;
      const abort = (): void => {
        first = false;
        this.#state = 'closed';
        connection.close();
        reject(toTransportError(signal?.reason ?? new Error('aborted'), 'connecting'));
      };
      signal?.addEventListener('abort', abort, { once: true });
      connection.on('connection_open', () => {
        // rhea writes every frame with its own socket.write: 256 transfers or dispositions in one turn
        // were 256 system calls (bus publish 14.8-15.6k -> 18.4-20.4k msg/s with this, in 4 runs against 2).
        // A new socket on each reconnect, so on each open.
        coalesceSocketWrites((connection as unknown as { socket?: unknown }).socket);
        if (this.#state === 'closed') return;
        const reopened = this.#state === 'reconnecting';
        this.#state = 'open';
        if (first) {
          first = false;
          signal?.removeEventListener('abort', abort);
          resolve();
        }
        if (reopened) {
          this.#recoveries++;
          for (const listener of this.#opened) listener();
        }
      });
      connection.on('disconnected', (context: EventContext) => {
        const error = context.error ?? context.connection.error;
        if (error !== undefined) this.#lastError = toTransportError(error, 'connection').message;
        if (this.#state === 'closed') return;
        if (first) {
          // The first attempt failed: report it instead of retrying behind the caller's back.
          first = false;
          signal?.removeEventListener('abort', abort);
          this.#state = 'closed';
          noReconnect(connection);
          connection.close();
          this.#connection = undefined;
          this.#state = 'idle';
          reject(
            toTransportError(error ?? new Error('connection refused'), `connecting to ${o.host}:${o.port}`),
          );
          return;
        }
        this.#state = 'reconnecting';
        for (const listener of this.#lost) listener();
      });
      // Errors rhea has no other listener for (a link refused by the broker, a protocol error) land here:
      // the owners of those links report them; this only keeps them from being thrown.
      connection.on('error', (context: EventContext) => {
        const error = context.error ?? context.connection.error;
        if (error !== undefined) this.#lastError = toTransportError(error, 'connection').message;
      });
      connection.on('connection_error', (context: EventContext) => {
        const error = context.connection.error;
        if (error !== undefined) this.#lastError = toTransportError(error, 'connection').message;
      });
    });
  }

  /** The open rhea connection; throws a retriable `NOT_CONNECTED` while reconnecting. */
  current(doing: string): Connection {
    if (this.#state === 'closed') throw new TransportClosedError('amqp10');
    if (this.#state !== 'open' || this.#connection === undefined) throw notConnected(doing);
    return this.#connection;
  }

  /** The rhea connection whatever its state (links made on it are re-attached by rhea after a drop). */
  raw(): Connection | undefined {
    return this.#connection;
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    this.#state = 'closed';
    if (connection === undefined) return;
    noReconnect(connection);
    if (!connection.is_open()) {
      connection.close();
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5_000);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      connection.once('connection_close', done);
      connection.once('disconnected', done);
      connection.close();
    });
  }
}

/** rhea's `set_reconnect` (missing from its typings). */
function noReconnect(connection: Connection): void {
  (connection as unknown as { set_reconnect(reconnect: boolean): void }).set_reconnect(false);
}
