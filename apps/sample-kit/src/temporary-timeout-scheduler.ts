import { AsyncResource } from 'node:async_hooks';
import type { Bus, CommandContract, Logger, MessageContext } from '@omnibus/core';
import { silentLogger, toOmnibusError, uuidv7 } from '@omnibus/core';
import type { SagaTimeoutMessage, TimeoutScheduler } from '@omnibus/saga';

/**
 * TEMPORARY, until the bus has durable scheduled messages (`send(..., { deliverAt })`): the saga's
 * timeouts as in-process timers that send the timeout command through the bus when due. Not durable: a
 * timeout pending when the process stops is lost (the e2e test never stops the order service).
 * The token check of the saga ignores a timeout whose step rolled back, so sending after the fact is safe.
 */
export class TemporaryTimeoutScheduler implements TimeoutScheduler {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  /** Timers start in this scope, not the handler's: the command must not join a finished handler's outbox. */
  readonly #scope = new AsyncResource('omnibus-sample-timeouts');
  #bus: Bus | undefined;

  constructor(private readonly logger: Logger = silentLogger) {}

  /** The bus the timeouts are sent through, once it exists. */
  attach(bus: Bus): void {
    this.#bus = bus;
  }

  async schedule(
    _cause: MessageContext,
    contract: CommandContract<SagaTimeoutMessage>,
    message: SagaTimeoutMessage,
    deliverAt: Date,
  ): Promise<string> {
    const id = uuidv7();
    const delay = Math.max(0, deliverAt.getTime() - Date.now());
    this.#scope.runInAsyncScope(() => this.#arm(id, delay, contract, message, 1));
    return id;
  }

  /** Sends when due; a send that fails (the broker is away) is tried again every second, up to a minute. */
  #arm(
    id: string,
    delay: number,
    contract: CommandContract<SagaTimeoutMessage>,
    message: SagaTimeoutMessage,
    attempt: number,
  ): void {
    const timer = setTimeout(() => {
      this.#timers.delete(id);
      this.#bus?.send(contract, message).catch((error: unknown) => {
        this.logger.warn(
          { error: toOmnibusError(error).message, attempt, ...message },
          'saga timeout not sent yet',
        );
        if (attempt < 60) this.#arm(id, 1_000, contract, message, attempt + 1);
        else this.logger.error({ ...message }, 'saga timeout lost');
      });
    }, delay);
    timer.unref();
    this.#timers.set(id, timer);
  }

  async cancel(scheduleId: string): Promise<void> {
    clearTimeout(this.#timers.get(scheduleId));
    this.#timers.delete(scheduleId);
  }

  /** Forgets every pending timeout (on stop). */
  clear(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
