import type { ChannelModel } from 'amqplib';
import { connect } from 'amqplib';
import type { Backoff } from '@omnibus/core';
import { TransportError, exponential, retry, toOmnibusError } from '@omnibus/core';
import { DONE, TransportClosedError } from '@omnibus/core/transport';
import { toTransportError } from './rabbitmq-errors.js';
import type { ResolvedRabbitMqOptions } from './rabbitmq-options.js';
import { connectArguments, redact } from './rabbitmq-options.js';
import { coalesceWrites } from './coalesced-writes.js';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'recovering' | 'closed';

/** Run after every reconnect, in registration order, before the connection counts as open again. */
export type RecoveryStep = (model: ChannelModel) => Promise<void>;

/**
 * One AMQP connection that heals itself. `open()` dials (with a few attempts); when the connection drops
 * afterwards, it redials with exponential backoff until it succeeds or `close()` is called, runs the
 * recovery steps (re-declare the topology, resume consumers), and only then reports itself open again.
 * While it is not open, `model()` throws a retriable `TransportError`, so callers fail fast instead of
 * hanging.
 */
export class RabbitMqConnection {
  readonly #options: ResolvedRabbitMqOptions;
  readonly #backoff: Backoff;
  readonly #steps: RecoveryStep[] = [];
  readonly #closing = new AbortController();
  #state: ConnectionState = 'idle';
  #model: ChannelModel | undefined;
  /** Whether the missing write coalescing has been logged. */
  #warnedUncoalesced = false;
  #opening: Promise<void> | undefined;
  #lastError: string | undefined;
  #blocked: string | undefined;
  #recoveries = 0;

  constructor(options: ResolvedRabbitMqOptions) {
    this.#options = options;
    this.#backoff = exponential({ initialMs: options.reconnect.initialMs, maxMs: options.reconnect.maxMs });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Why the broker is blocking publishers (a memory or disk alarm), while it is. */
  get blocked(): string | undefined {
    return this.#blocked;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Completed reconnects since `open()`. */
  get recoveries(): number {
    return this.#recoveries;
  }

  onRecovery(step: RecoveryStep): void {
    this.#steps.push(step);
  }

  /** The live connection; throws `NOT_CONNECTED` (retriable) while reconnecting, `TRANSPORT_CLOSED` after close. */
  model(): ChannelModel {
    if (this.#state === 'open' && this.#model !== undefined) return this.#model;
    if (this.#state === 'closed') {
      throw new TransportClosedError('rabbitmq');
    }
    throw new TransportError(
      `not connected to RabbitMQ (${this.#state}${this.#lastError === undefined ? '' : `: ${this.#lastError}`})`,
      { code: 'NOT_CONNECTED', retriable: true },
    );
  }

  /** Connects; idempotent. Fails with a `TransportError` after `connectAttempts` or when `signal` aborts. */
  open(signal?: AbortSignal): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new TransportClosedError('rabbitmq'));
    if (this.#state === 'open' || this.#state === 'recovering') return DONE;
    this.#opening ??= this.#open(signal).finally(() => (this.#opening = undefined));
    return this.#opening;
  }

  async #open(signal: AbortSignal | undefined): Promise<void> {
    this.#state = 'connecting';
    const signals = signal === undefined ? [this.#closing.signal] : [this.#closing.signal, signal];
    try {
      const model = await retry(() => this.#dial(), {
        attempts: this.#options.connectAttempts,
        backoff: this.#backoff,
        signal: AbortSignal.any(signals),
      });
      if (this.#state !== 'connecting') {
        await closeQuietly(model);
        throw new TransportClosedError('rabbitmq');
      }
      this.#attach(model);
      this.#state = 'open';
    } catch (error) {
      if (this.#state === 'connecting') this.#state = 'idle';
      throw toTransportError(error, `connecting to ${redact(this.#options.url.href)}`);
    }
  }

  async #dial(): Promise<ChannelModel> {
    const { server, socket } = connectArguments(this.#options);
    try {
      return await connect(server, socket);
    } catch (error) {
      this.#lastError = error instanceof Error ? error.message : String(error);
      throw toTransportError(error, 'connecting');
    }
  }

  #attach(model: ChannelModel): void {
    this.#model = model;
    this.#blocked = undefined;
    if (!coalesceWrites(model) && !this.#warnedUncoalesced) {
      this.#warnedUncoalesced = true;
      this.#options.logger.warn(
        { pinned: 'amqplib 2.3.1' },
        'rabbitmq: this amqplib lacks the connection internals the driver batches socket writes with; one write per frame (slower)',
      );
    }
    model.on('error', (error: Error) => {
      this.#lastError = error.message;
      this.#options.logger.warn({ error: error.message }, 'rabbitmq connection error');
    });
    model.on('blocked', (reason: string) => {
      this.#blocked = reason;
      this.#options.logger.warn({ reason }, 'rabbitmq blocks publishers');
    });
    model.on('unblocked', () => {
      this.#blocked = undefined;
      this.#options.logger.info({}, 'rabbitmq unblocked publishers');
    });
    model.once('close', () => {
      if (this.#model !== model) return;
      this.#model = undefined;
      if (this.#state === 'closed') return;
      this.#state = 'recovering';
      this.#options.logger.warn({ error: this.#lastError }, 'rabbitmq connection lost: reconnecting');
      void this.#recover();
    });
  }

  /** Redials until it works or the transport closes; a drop during the steps starts another round. */
  async #recover(): Promise<void> {
    let model: ChannelModel;
    try {
      model = await retry(() => this.#dial(), {
        attempts: Number.POSITIVE_INFINITY,
        backoff: this.#backoff,
        retriable: () => true,
        signal: this.#closing.signal,
        onRetry: (error, attempt, delayMs) =>
          this.#options.logger.debug(
            { attempt, delayMs, error: toOmnibusError(error).message },
            'rabbitmq reconnect failed',
          ),
      });
    } catch {
      return; // closed while reconnecting
    }
    if (this.#state === 'closed') {
      await closeQuietly(model);
      return;
    }
    this.#attach(model);
    for (const step of this.#steps) {
      if (this.#model !== model) return; // dropped again: the next round runs the steps
      try {
        await step(model);
      } catch (error) {
        this.#options.logger.error({ error: toOmnibusError(error).message }, 'rabbitmq recovery step failed');
      }
    }
    if (this.#model !== model || this.#state !== 'recovering') return;
    this.#state = 'open';
    this.#recoveries++;
    this.#options.logger.info({ recoveries: this.#recoveries }, 'rabbitmq connection recovered');
  }

  /** Disconnects; idempotent. A connect or reconnect in progress gives up. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#closing.abort(new TransportClosedError('rabbitmq'));
    const model = this.#model;
    this.#model = undefined;
    if (model !== undefined) await closeQuietly(model);
  }
}

async function closeQuietly(model: ChannelModel): Promise<void> {
  try {
    await model.close();
  } catch {
    // Already closed by the broker or the network: nothing left to release.
  }
}
