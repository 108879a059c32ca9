import type { Backoff } from './backoff.js';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import type { Clock } from './clock.js';
import type { Envelope } from './envelope.js';
import { systemClock } from './clock.js';
import { exponential } from './backoff.js';
import { ErrorCode } from './error-codes.js';
import { ConfigurationError, toOmnibusError } from './errors.js';
import type { Logger } from './logger.js';
import { defaultLogger } from './logger.js';
import type { OutboxBacklog, OutboxListener, OutboxRecord, OutboxStore } from './persistence.js';
import type { ScheduleStore } from './schedule-store.js';
import type { TelemetryOptions } from './telemetry/telemetry.js';
import { Telemetry } from './telemetry/telemetry.js';
import type { Destination, Transport } from './transport.js';
import { describeDestination } from './transport.js';
import { uuidv7 } from './uuid.js';

export interface OutboxRelayOptions {
  /** The outbox to drain. */
  readonly store: OutboxStore;
  /**
   * The scheduled messages of the same persistence: each round first moves the due ones into the outbox
   * (up to `batchSize`), and an idle relay sleeps no longer than until the earliest due time.
   */
  readonly schedules?: ScheduleStore;
  /** Where to publish; it must be connected (the bus's own transport is the usual choice). */
  readonly transport: Transport;
  /** Rows claimed, published and marked per round. Default 100. */
  readonly batchSize?: number;
  /**
   * How long a claim is leased. A relay that dies holding rows delays them this long; a relay whose
   * publish of one batch takes longer than this may see the rows republished by another. Default 30 s.
   */
  readonly leaseMs?: number;
  /**
   * How often an idle relay looks for rows. Default 1 s when the store can notify (`listen`), which
   * wakes the relay at once; 100 ms when it cannot.
   */
  readonly pollIntervalMs?: number;
  /**
   * How long published rows are kept (for inspection and audit) before they are purged. Default 0:
   * rows are deleted as soon as they are published.
   */
  readonly retentionMs?: number;
  /** Wait after a round that failed (broker or database down). Default exponential, 100 ms to 30 s. */
  readonly backoff?: Backoff;
  /** Default `defaultLogger()`: warnings and errors to stderr, one JSON line each; `silentLogger` for none. */
  readonly logger?: Logger;
  /** Time for the retention cut-off and the lag; injectable for tests. */
  readonly clock?: Clock;
  /** Where spans and metrics go; default the global OpenTelemetry providers (no-ops without an SDK). */
  readonly telemetry?: TelemetryOptions;
}

/** Counters since the relay was created. */
export interface OutboxRelayMetrics {
  /** Rows published and marked. */
  published: number;
  /** Rows claimed (a row claimed again after a failure counts again). */
  claimed: number;
  /** Rounds that claimed at least one row. */
  batches: number;
  /** Publish calls the transport rejected. */
  publishErrors: number;
  /** Store calls that failed (database down, lock timeouts). */
  storeErrors: number;
  /** Rows given up on because the broker can never take them (marked failed in the store). */
  failed: number;
  /** Scheduled messages moved into the outbox when due. */
  released: number;
}

/** An outbox's backlog plus the lag: how long the oldest pending row has waited, in ms (0 when none). */
export interface OutboxLag extends OutboxBacklog {
  readonly lagMs: number;
  /** With `schedules`: how many scheduled messages wait, and when the earliest falls due. */
  readonly scheduled?: { readonly pending: number; readonly nextDueAt: Date | undefined };
}

interface GroupOutcome {
  readonly published: readonly string[];
  readonly released: readonly string[];
  readonly error: unknown;
}

/**
 * Publishes what units of work wrote to the outbox. Each round claims up to `batchSize` rows (a lease,
 * see {@link OutboxStore}), publishes them per destination in id order (so per key), and marks them
 * published (deletes them, or keeps them for `retentionMs`). Several relays, in one process or many,
 * may drain one outbox: claims never overlap and a key is published by one relay at a time.
 *
 * With `schedules`, each round first moves the due scheduled messages into the outbox, and an idle relay
 * wakes at the earliest due time (or when the schedule store says a sooner one was added).
 *
 * Wake-ups come from `store.listen` when it has one, with polling as the fallback. When the broker or the
 * database fails the relay releases what it holds and backs off; a row the broker rejects as too large is
 * marked failed instead of blocking its key forever. Delivery is at-least-once: a crash between publish
 * and mark republishes after the lease expires, and the consumers' inbox absorbs the duplicate.
 */
export class OutboxRelay {
  /** This relay's lease owner id. */
  readonly id = `relay-${uuidv7()}`;
  readonly metrics: OutboxRelayMetrics = {
    published: 0,
    claimed: 0,
    batches: 0,
    publishErrors: 0,
    storeErrors: 0,
    failed: 0,
    released: 0,
  };
  readonly #store: OutboxStore;
  readonly #schedules: ScheduleStore | undefined;
  readonly #transport: Transport;
  readonly #batchSize: number;
  readonly #leaseMs: number;
  readonly #pollIntervalMs: number;
  readonly #retentionMs: number;
  readonly #backoff: Backoff;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #telemetry: Telemetry;
  #stopObserving: (() => void) | undefined;
  #stopping = new AbortController();
  #running: Promise<void> | undefined;
  #listener: OutboxListener | undefined;
  #scheduleListener: OutboxListener | undefined;
  #woken = false;
  #wake: (() => void) | undefined;
  /** When the wakeable pause in progress ends; undefined while a round runs. */
  #pauseUntil: number | undefined;
  /** The soonest due time notified while the current round ran (its own read may have missed it). */
  #notifiedDueAt = Infinity;

  constructor(options: OutboxRelayOptions) {
    if (options === null || typeof options !== 'object') {
      throw new ConfigurationError('options', 'must be an object');
    }
    const store = options.store as Partial<OutboxStore> | undefined;
    if (typeof store?.claim !== 'function' || typeof store.markPublished !== 'function') {
      throw new ConfigurationError('store', 'must implement OutboxStore');
    }
    if (typeof (options.transport as Partial<Transport> | undefined)?.publish !== 'function') {
      throw new ConfigurationError('transport', 'must implement Transport');
    }
    this.#store = options.store;
    if (options.schedules !== undefined && typeof options.schedules.releaseDue !== 'function') {
      throw new ConfigurationError('schedules', 'must implement ScheduleStore');
    }
    this.#schedules = options.schedules;
    this.#transport = options.transport;
    this.#batchSize = options.batchSize ?? 100;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#pollIntervalMs = options.pollIntervalMs ?? (options.store.listen === undefined ? 100 : 1_000);
    this.#retentionMs = options.retentionMs ?? 0;
    this.#backoff = options.backoff ?? exponential({ initialMs: 100, maxMs: 30_000 });
    this.#logger = options.logger ?? defaultLogger();
    this.#clock = options.clock ?? systemClock;
    this.#telemetry = new Telemetry(options.transport.name, options.telemetry);
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1) {
      throw new ConfigurationError('batchSize', `must be a positive integer, got ${String(this.#batchSize)}`);
    }
    if (!(this.#leaseMs > 0))
      throw new ConfigurationError('leaseMs', `must be > 0, got ${String(this.#leaseMs)}`);
    if (!(this.#pollIntervalMs > 0)) {
      throw new ConfigurationError('pollIntervalMs', `must be > 0, got ${String(this.#pollIntervalMs)}`);
    }
    if (!(this.#retentionMs >= 0)) {
      throw new ConfigurationError('retentionMs', `must be >= 0, got ${String(this.#retentionMs)}`);
    }
  }

  get running(): boolean {
    return this.#running !== undefined;
  }

  /**
   * Starts relaying in the background (and subscribes to the store's notifications). Resolves once
   * running; a store that cannot listen yet only means polling until it can.
   */
  async start(): Promise<void> {
    if (this.#running !== undefined) throw new ConfigurationError('start', 'the relay is already running');
    this.#stopping = new AbortController();
    this.#woken = true; // look at once: rows may be waiting from before
    if (this.#store.listen !== undefined) {
      try {
        this.#listener = await this.#store.listen(() => this.#notify());
      } catch (error) {
        this.#logger.warn(
          { relay: this.id, error: toOmnibusError(error).message },
          'outbox notifications unavailable: polling',
        );
      }
    }
    if (this.#schedules?.listen !== undefined) {
      try {
        this.#scheduleListener = await this.#schedules.listen((earliest) => this.#onScheduled(earliest));
      } catch (error) {
        this.#logger.warn(
          { relay: this.id, error: toOmnibusError(error).message },
          'schedule notifications unavailable: polling',
        );
      }
    }
    this.#stopObserving = this.#telemetry.observeOutbox(() => this.lag());
    this.#running = this.#run();
  }

  /** Graceful stop: the round in progress finishes (publish and mark), then the relay stops. */
  async stop(): Promise<void> {
    const running = this.#running;
    if (running === undefined) return;
    this.#stopping.abort();
    this.#wake?.();
    await running;
    this.#stopObserving?.();
    this.#stopObserving = undefined;
    await this.#listener?.close();
    await this.#scheduleListener?.close();
    this.#listener = undefined;
    this.#scheduleListener = undefined;
    this.#running = undefined;
  }

  /** The outbox's backlog and lag (and the schedules waiting), read from the stores now. */
  async lag(): Promise<OutboxLag> {
    const backlog = await this.#store.backlog();
    const oldest = backlog.oldestPendingAt;
    const lagMs = oldest === undefined ? 0 : Math.max(0, this.#clock.now() - oldest.getTime());
    if (this.#schedules === undefined) return { ...backlog, lagMs };
    const [pending, nextDueAt] = await Promise.all([this.#schedules.pending(), this.#schedules.nextDueAt()]);
    return { ...backlog, lagMs, scheduled: { pending, nextDueAt } };
  }

  #notify(): void {
    this.#woken = true;
    this.#wake?.();
  }

  /** A schedule was added: wake only if it falls due before the relay would look anyway. */
  #onScheduled(earliest: Date | undefined): void {
    if (earliest === undefined) return this.#notify();
    const at = earliest.getTime();
    if (this.#pauseUntil === undefined) this.#notifiedDueAt = Math.min(this.#notifiedDueAt, at);
    else if (at < this.#pauseUntil) this.#notify();
  }

  async #run(): Promise<void> {
    let failures = 0;
    let nextPurge = 0;
    while (!this.#stopping.signal.aborted) {
      this.#woken = false;
      this.#notifiedDueAt = Infinity;
      let round: { claimed: number; failed: boolean; nextDueAt?: Date | undefined };
      try {
        const now = this.#clock.now();
        if (this.#retentionMs > 0 && now >= nextPurge) {
          nextPurge = now + Math.min(this.#retentionMs, 60_000);
          await this.#store.purgePublished(new Date(now - this.#retentionMs));
        }
        round = await this.#round();
      } catch (error) {
        round = { claimed: 0, failed: true };
        this.metrics.storeErrors++;
        this.#logger.error({ relay: this.id, error: toOmnibusError(error).message }, 'outbox store failed');
      }
      const { claimed, failed } = round;
      if (failed) {
        failures++;
        await this.#pause(this.#backoff(failures), false);
      } else {
        failures = 0;
        // A short claim may only mean another relay holds some keys: claim again at once, and sleep only
        // when there was nothing to take: until the next poll, or the next schedule's due time if sooner.
        if (claimed === 0) {
          const nextDueAt = Math.min(round.nextDueAt?.getTime() ?? Infinity, this.#notifiedDueAt);
          const dueInMs = nextDueAt - this.#clock.now();
          // Due already yet not released: another transaction holds the row (a cancel): look again soon.
          const waitMs = dueInMs <= 0 ? 5 : Math.min(this.#pollIntervalMs, dueInMs);
          await this.#pause(waitMs, true);
        }
      }
    }
  }

  /** Waits `ms`, or less when the relay stops, or (when `wakeable`) when rows are committed. */
  async #pause(ms: number, wakeable: boolean): Promise<void> {
    if (this.#stopping.signal.aborted || (wakeable && this.#woken)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        this.#pauseUntil = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      if (wakeable) this.#pauseUntil = this.#clock.now() + ms;
      this.#wake = () => {
        if (wakeable || this.#stopping.signal.aborted) done();
      };
    });
  }

  async #round(): Promise<{ claimed: number; failed: boolean; nextDueAt?: Date | undefined }> {
    if (this.#schedules !== undefined) {
      // Released rows are in the outbox now, in due order: the claim below takes them like any other.
      this.metrics.released += await this.#schedules.releaseDue(this.#batchSize);
    }
    const records = await this.#store.claim(this.id, this.#batchSize, this.#leaseMs);
    if (records.length === 0) {
      return { claimed: 0, failed: false, nextDueAt: await this.#schedules?.nextDueAt() };
    }
    this.metrics.claimed += records.length;
    this.metrics.batches++;
    const groups = new Map<string, OutboxRecord[]>();
    for (const record of records) {
      const name = describeDestination(record.destination);
      const group = groups.get(name);
      if (group === undefined) groups.set(name, [record]);
      else group.push(record);
    }
    // Destinations are independent (order is per destination and key): publish them side by side.
    const outcomes = await Promise.all([...groups.values()].map((group) => this.#publish(group)));
    const published = outcomes.flatMap((outcome) => outcome.published);
    const released = outcomes.flatMap((outcome) => outcome.released);
    if (published.length > 0) {
      await this.#store.markPublished(published, this.#retentionMs > 0);
      this.metrics.published += published.length;
    }
    if (released.length > 0) await this.#store.release(this.id, released);
    const errors = outcomes.filter((outcome) => outcome.error !== undefined);
    for (const outcome of errors) {
      this.metrics.publishErrors++;
      const error = toOmnibusError(outcome.error);
      this.#logger.warn(
        { relay: this.id, code: error.code, error: error.message, released: outcome.released.length },
        'outbox publish failed: backing off',
      );
    }
    return { claimed: records.length, failed: errors.length > 0 };
  }

  /** Publishes one destination's rows in order; on failure says which were published and which not. */
  async #publish(records: readonly OutboxRecord[]): Promise<GroupOutcome> {
    const destination = records[0]!.destination;
    try {
      await this.#send(
        destination,
        records.map((record) => record.envelope),
      );
      return { published: records.map((record) => record.id), released: [], error: undefined };
    } catch (error) {
      if (!isTooLarge(error)) {
        return { published: [], released: records.map((record) => record.id), error };
      }
    }
    // Some row is too large for the broker: find it (them) one by one, keeping the order.
    const published: string[] = [];
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!;
      try {
        await this.#send(destination, [record.envelope]);
        published.push(record.id);
      } catch (error) {
        if (!isTooLarge(error)) {
          return { published, released: records.slice(index).map((r) => r.id), error };
        }
        const reason = toOmnibusError(error).message;
        await this.#store.markFailed(this.id, record.id, reason);
        this.metrics.failed++;
        this.#logger.error(
          {
            relay: this.id,
            messageId: record.envelope.id,
            destination: describeDestination(destination),
            reason,
          },
          'outbox row can never be published: marked failed',
        );
      }
    }
    return { published, released: [], error: undefined };
  }

  /** One publish, as a `send` span linked to the trace of each transaction that wrote a row. */
  #send(destination: Destination, envelopes: readonly Envelope[]): Promise<void> {
    const sending = this.#telemetry.sendCreated(destination, envelopes, ROOT_CONTEXT);
    return sending.settle(this.#transport.publish(destination, envelopes));
  }
}

function isTooLarge(error: unknown): boolean {
  return toOmnibusError(error).code === ErrorCode.MESSAGE_TOO_LARGE;
}
