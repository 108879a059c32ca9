import type { Backoff, Logger, OutboxListener } from '@omnibus/core';
import { exponential, toOmnibusError } from '@omnibus/core';
import type { ClientConfig } from 'pg';
import pg from 'pg';

/**
 * A dedicated connection that LISTENs on one channel and calls `onNotify` for each notification, with its
 * payload. When
 * the connection drops it reconnects with backoff and calls `onNotify` once reconnected, since
 * notifications sent meanwhile are lost. Never throws: while it cannot listen, the relay's polling
 * covers.
 */
export class PostgresListener implements OutboxListener {
  readonly #backoff: Backoff = exponential({ initialMs: 100, maxMs: 5_000 });
  #client: pg.Client | undefined;
  #closed = false;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: ClientConfig,
    private readonly channel: string,
    private readonly onNotify: (payload?: string) => void,
    private readonly logger: Logger,
  ) {}

  /** Connects and listens; resolves after the first attempt, successful or not. */
  async open(): Promise<void> {
    await this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({ ...this.config, application_name: 'omnibus-outbox-listener' });
    let lost = false;
    const onLost = (error?: Error): void => {
      if (lost) return;
      lost = true;
      if (this.#client === client) this.#client = undefined;
      client.end().catch(() => undefined);
      if (this.#closed) return;
      this.logger.warn(
        { channel: this.channel, error: error?.message ?? 'connection ended' },
        'outbox listener lost its connection',
      );
      this.#schedule();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (notification) => this.onNotify(notification.payload));
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (error) {
      if (!lost) {
        lost = true;
        client.end().catch(() => undefined);
        this.logger.warn(
          { channel: this.channel, error: toOmnibusError(error).message },
          'outbox listener cannot connect',
        );
        this.#schedule();
      }
      return;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    if (this.#failures > 0) this.onNotify(); // catch up on what was committed while deaf
    this.#failures = 0;
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#failures++;
    this.#timer = setTimeout(() => void this.#connect(), this.#backoff(this.#failures));
    this.#timer.unref();
  }
}
