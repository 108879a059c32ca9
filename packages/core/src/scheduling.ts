import type { Clock } from './clock.js';
import { OmnibusError } from './errors.js';
import type { PublishOptions } from './message-context.js';
import type { OutboxMessage } from './persistence.js';
import type { ScheduleListOptions, ScheduledMessage, ScheduleStore } from './schedule-store.js';
import { uuidv7 } from './uuid.js';

/** Publish options that schedule the message: one of `deliverAt` or `delayMs`. */
export type SchedulePublishOptions = PublishOptions &
  (
    | { readonly deliverAt: Date; readonly delayMs?: undefined }
    | { readonly delayMs: number; readonly deliverAt?: undefined }
  );

/** Publish options that publish now. */
export type ImmediatePublishOptions = PublishOptions & {
  readonly deliverAt?: undefined;
  readonly delayMs?: undefined;
};

/** What a publish or send resolves to: the schedule's handle when it was scheduled, nothing otherwise. */
export type PublishResult = ScheduledMessage | void;

/** A due time that cannot be: not a valid `Date`, a negative or non-finite delay, or both given. */
export function invalidSchedule(reason: string): OmnibusError {
  return new OmnibusError(`invalid schedule: ${reason}`, { code: 'INVALID_SCHEDULE', retriable: false });
}

/**
 * The due time `options` ask for, validated; `undefined` when they ask to publish now. Throws an
 * `INVALID_SCHEDULE` error before anything is written.
 */
export function deliverAtOf(options: PublishOptions | undefined, clock: Clock): Date | undefined {
  if (options === undefined) return undefined;
  const { deliverAt, delayMs } = options;
  if (deliverAt === undefined && delayMs === undefined) return undefined;
  if (deliverAt !== undefined && delayMs !== undefined) {
    throw invalidSchedule('give deliverAt or delayMs, not both');
  }
  if (deliverAt !== undefined) return validDate(deliverAt, 'deliverAt');
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
    throw invalidSchedule(`delayMs must be a finite number >= 0, got ${String(delayMs)}`);
  }
  return new Date(clock.now() + delayMs);
}

export function validDate(value: unknown, field: string): Date {
  if (!(value instanceof Date) || !Number.isFinite(value.getTime())) {
    throw invalidSchedule(`${field} must be a valid Date, got ${String(value)}`);
  }
  return new Date(value.getTime());
}

/** The schedule row of an outgoing message. */
export function scheduledMessage(message: OutboxMessage, deliverAt: Date, clock: Clock): ScheduledMessage {
  const now = clock.now();
  return {
    id: uuidv7(now),
    destination: message.destination,
    envelope: message.envelope,
    deliverAt,
    createdAt: new Date(now),
  };
}

/**
 * `bus.schedules`: what is waiting, and the operator's levers on it. The guarantees are the store's
 * (see {@link ScheduleStore}): `cancel` resolves true only if the message will never be delivered.
 */
export class BusSchedules {
  readonly #store: () => ScheduleStore;

  constructor(store: () => ScheduleStore) {
    this.#store = store;
  }

  /** Waiting messages, earliest due first (default limit 100). */
  async list(options: ScheduleListOptions = {}): Promise<ScheduledMessage[]> {
    if (options.dueBefore !== undefined) validDate(options.dueBefore, 'dueBefore');
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1) {
      throw invalidSchedule(`limit must be a positive integer, got ${String(limit)}`);
    }
    return this.#store().list({ ...options, limit });
  }

  async get(id: string): Promise<ScheduledMessage | undefined> {
    return this.#store().get(id);
  }

  /** True only if the message will never be delivered; false when it was released already or is unknown. */
  async cancel(id: string): Promise<boolean> {
    return this.#store().cancel(id);
  }

  /** Moves a waiting message to `deliverAt` (in the past: released at once); false when not waiting. */
  async reschedule(id: string, deliverAt: Date): Promise<boolean> {
    return this.#store().reschedule(id, validDate(deliverAt, 'deliverAt'));
  }
}
