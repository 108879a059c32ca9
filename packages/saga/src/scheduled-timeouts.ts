import type { CommandContract, MessageContext, ScheduleStore } from '@omnibus/core';
import { ConfigurationError } from '@omnibus/core';
import type { TimeoutScheduler } from './saga-context.js';
import type { SagaTimeoutMessage } from './saga-definition.js';

/**
 * Timeouts as the bus's scheduled messages (the default of `SagaRuntime`): `schedule` sends the timeout
 * command with `deliverAt` through the step's message context, so the schedule row is written in the
 * step's transaction and commits with the saga's state, or not at all; it survives restarts like any
 * scheduled message. `cancel` deletes a row the saga no longer waits for, when given the persistence's
 * scheduled-messages table; without it the timeout still comes and is ignored by its token.
 */
export class ScheduledTimeouts implements TimeoutScheduler {
  readonly #schedules: ScheduleStore | undefined;

  constructor(schedules?: ScheduleStore) {
    this.#schedules = schedules;
  }

  async schedule(
    cause: MessageContext,
    contract: CommandContract<SagaTimeoutMessage>,
    message: SagaTimeoutMessage,
    deliverAt: Date,
  ): Promise<string | undefined> {
    const scheduled = await cause.send(contract, message, { deliverAt });
    if (scheduled === undefined) {
      throw new ConfigurationError('scheduler', 'the bus did not schedule the saga timeout');
    }
    return scheduled.id;
  }

  async cancel(scheduleId: string): Promise<void> {
    // false means it was released already: it comes, and the token check ignores it.
    await this.#schedules?.cancel(scheduleId);
  }
}
