import { AsyncResource } from 'node:async_hooks';
import type { Bus, CommandContract, MessageContext } from '@omnibus/core';
import type { SagaTimeoutMessage, TimeoutScheduler } from '@omnibus/saga';

/**
 * Saga timeouts as the bus's scheduled messages: the timeout command is sent with `deliverAt` from the
 * step's context, so it is written to the persistence's schedules table in the step's transaction (it
 * exists only if the step commits, and survives a restart), and the bus's relay releases it when due.
 */
export class BusTimeoutScheduler implements TimeoutScheduler {
  #bus: Bus | undefined;
  /**
   * Cancels run in this scope, not the caller's: the saga runtime cancels right after a step, on an async
   * path that still carries the step's SQLite unit of work, and a cancel there is refused as nested.
   */
  readonly #scope = new AsyncResource('omnibus-sample-timeout-cancel');

  /** The bus whose schedules are cancelled, once it exists. */
  attach(bus: Bus): void {
    this.#bus = bus;
  }

  async schedule(
    cause: MessageContext,
    contract: CommandContract<SagaTimeoutMessage>,
    message: SagaTimeoutMessage,
    deliverAt: Date,
  ): Promise<string | undefined> {
    const scheduled = await cause.send(contract, message, { deliverAt });
    return scheduled === undefined ? undefined : scheduled.id;
  }

  async cancel(scheduleId: string): Promise<void> {
    const bus = this.#bus;
    if (bus === undefined) return;
    await this.#scope.runInAsyncScope(() => bus.schedules.cancel(scheduleId));
  }
}
