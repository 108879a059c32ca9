import { OmnibusError } from './errors.js';

/**
 * `bus.publish` or `bus.send` before `bus.start()` has finished: the topology its own handlers need
 * (their subscriptions) may not exist yet, so an event would reach no one. Not retriable: start first.
 */
export class BusNotStartedError extends OmnibusError {
  constructor(state: string) {
    super(`bus is ${state}: call and await bus.start() before publishing or sending`, {
      code: 'BUS_NOT_STARTED',
      retriable: false,
    });
  }
}

/**
 * A command queue delivered a message type none of its handlers handles. A queue belongs to one service,
 * so this is a routing mistake: the message goes to the dead-letter queue with this reason.
 */
export class UnknownMessageTypeError extends OmnibusError {
  constructor(type: string, source: string) {
    super(`no handler for ${type} on ${source}`, { code: 'UNKNOWN_MESSAGE_TYPE', retriable: false });
  }
}
