import type { Logger } from '@omnibus/core';
import { exponential, toOmnibusError, TransportError } from '@omnibus/core';
import {
  type Consumer,
  type DeliverySink,
  type Failure,
  type Source,
  withFailureHeaders,
} from '@omnibus/core/transport';
import { DONE, SinkCalls, describeSource } from '@omnibus/core/transport';
import type { FetchedRaw, GroupMember, KafkaClient } from './kafka-client.js';
import type { DecodeRules, OutgoingRecord } from './kafka-codec.js';
import { toDeadLetterMessage, toRetryMessage } from './kafka-codec.js';
import type { DeliverySettler, Outcome } from './kafka-delivery.js';
import { KafkaDelivery } from './kafka-delivery.js';
import { toTransportError } from './kafka-errors.js';
import type { SourceTopology } from './kafka-names.js';
import type { ResolvedKafkaOptions } from './kafka-options.js';
import type { FetchedRecord } from './fetched-record.js';
import { toFetchedRecord } from './fetched-record.js';
import { PartitionTracker } from './partition-tracker.js';
import type { TrackedEntry } from './partition-tracker.js';
import { OffsetCommitter } from './offset-committer.js';
import { decodeSettledOffsets } from './settled-offsets.js';

export interface KafkaConsumerDeps {
  readonly client: KafkaClient;
  readonly source: Source;
  readonly topology: SourceTopology;
  readonly sink: DeliverySink;
  readonly concurrency: number;
  readonly options: ResolvedKafkaOptions;
  /** Sends records with the transport's idempotent producer; resolves once acknowledged. */
  readonly produce: (topic: string, messages: readonly OutgoingRecord[]) => Promise<void>;
  readonly onClosed: (consumer: KafkaConsumer) => void;
}

/** Settled offsets are committed at most this often (and at once on close and on a rebalance). */
const COMMIT_INTERVAL_MS = 100;

/**
 * One consumer group member reading one source: the main topic and its retry topic.
 *
 * The client's group member fetches; every fetched record goes into the tracker of its partition at
 * once (the fetch never waits for handlers, so one slow key cannot hold back the other partitions or
 * keys), and fetching from a partition pauses while its buffer is full. Deliveries are handed out across partitions in turn,
 * per key in order, at most `concurrency` unsettled at a time. Offsets are committed when the records
 * before them are settled, with the settled records after them in the commit metadata.
 *
 * Rebalances: the clients give no revoke callback, so the consumer stops handing out records as soon as
 * a rebalance starts and commits what is settled (cooperative members are never told to stop: their
 * member reports the smaller assignment instead); when the group is joined again, partitions it keeps go
 * on where they were (the member is told to seek there), partitions it lost are forgotten (deliveries of
 * them still in flight finish but are not committed: their next owner delivers them again).
 */
export class KafkaConsumer implements Consumer, DeliverySettler {
  readonly source: Source;
  readonly #deps: KafkaConsumerDeps;
  readonly #logger: Logger;
  readonly #partitionLimit: number;
  readonly #maxBufferedBytes: number;
  #member: GroupMember | undefined;
  readonly #trackers = new Map<string, PartitionTracker<FetchedRecord>>();
  #order: PartitionTracker<FetchedRecord>[] = [];
  #turn = 0;
  /** Partitions loading the settled offsets their previous owner recorded. */
  readonly #loading = new Map<PartitionTracker<FetchedRecord>, Promise<void>>();
  /** Partitions whose fetching is paused because their buffer is full. */
  readonly #fetchPaused = new Set<PartitionTracker<FetchedRecord>>();
  readonly #committer: OffsetCommitter;
  /** Sink calls that have not returned yet; `close` waits for them. */
  readonly #sinkCalls: SinkCalls;
  readonly #writes = new Set<Promise<void>>();
  #unsettled = 0;
  #memberId: string | undefined;
  #paused = false;
  #rebalancing = true;
  #stopping = false;
  #closing: Promise<void> | undefined;
  #crash: Error | undefined;
  #pumping = false;
  #pumpAgain = false;
  #dueTimer: NodeJS.Timeout | undefined;
  #dueAt = Number.POSITIVE_INFINITY;
  #onJoined: ((error?: Error) => void) | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #restarts = 0;
  readonly #restartBackoff = exponential({ initialMs: 500, maxMs: 30_000, jitter: 'none' });

  private constructor(deps: KafkaConsumerDeps) {
    this.#deps = deps;
    this.source = deps.source;
    this.#logger = deps.options.logger;
    this.#partitionLimit = Math.min(
      deps.options.consumer.partitionConcurrency ?? deps.concurrency,
      deps.concurrency,
    );
    this.#maxBufferedBytes = deps.options.consumer.maxBufferedBytesPerPartition;
    this.#sinkCalls = new SinkCalls((error) =>
      // The delivery stays unsettled (delivered again after close or rebalance); the consumer goes on.
      this.#logger.error({ group: this.groupId, error: toOmnibusError(error).message }, 'sink threw'),
    );
    this.#committer = new OffsetCommitter(
      () => this.#trackers,
      (offsets) => this.#member?.commit(offsets) ?? Promise.resolve(),
      (error) =>
        // Usually a rebalance: the next generation commits again, or the next owner redelivers.
        this.#logger.debug(
          { group: this.groupId, error: toOmnibusError(error).message },
          'kafka offset commit failed',
        ),
      COMMIT_INTERVAL_MS,
    );
  }

  /** Joins the group and resolves once partitions are assigned: what is published next is received. */
  static async start(deps: KafkaConsumerDeps): Promise<KafkaConsumer> {
    const consumer = new KafkaConsumer(deps);
    try {
      await consumer.#start();
    } catch (error) {
      await consumer.#member?.disconnect().catch(() => undefined);
      deps.onClosed(consumer);
      throw toTransportError(error, `joining consumer group ${deps.topology.groupId}`);
    }
    return consumer;
  }

  /** Why the consumer is down, while it restarts after the client gave up on it; undefined once it joined again. */
  get crash(): Error | undefined {
    return this.#crash;
  }

  get groupId(): string {
    return this.#deps.topology.groupId;
  }

  async #start(): Promise<void> {
    const settings = this.#deps.options.consumer;
    const joined = new Promise<void>((resolve, reject) => {
      this.#onJoined = (error) => (error === undefined ? resolve() : reject(error));
    });
    joined.catch(() => undefined); // a crash may come before anyone awaits it
    await this.#run();
    const deadline = settings.rebalanceTimeoutMs + settings.sessionTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        joined,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new TransportError(`no partitions assigned within ${deadline} ms`, { code: 'JOIN_TIMEOUT' }),
              ),
            deadline,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Creates a group member and runs it; its events reach this consumer while it is current. */
  async #run(): Promise<void> {
    const { options, topology } = this.#deps;
    const current = (): boolean => this.#member === member;
    const member: GroupMember = this.#deps.client.member(
      { groupId: topology.groupId, topics: topology.topics, ...options.consumer },
      {
        joined: (memberId, assignment) =>
          this.#guard('group join', () => {
            if (current()) this.#onGroupJoin(memberId, assignment);
          }),
        rebalancing: () =>
          this.#guard('rebalance', () => {
            if (current()) this.#onRebalancing();
          }),
        crashed: (error, restarting) =>
          this.#guard('crash', () => {
            if (current()) this.#onCrash(error, restarting);
          }),
        fetched: (topic, partition, records, lastOffset) =>
          current() ? this.#onFetched(topic, partition, records, lastOffset) : undefined,
      },
    );
    this.#member = member;
    await member.run();
  }

  /**
   * The clients restart a member after passing errors only; some they call permanent are passing too
   * (no group coordinator while a broker restarts). Once one gives up, a new member is started,
   * with backoff, until one joins or this consumer is closed. `crash` reports the failure meanwhile.
   */
  #restartLater(): void {
    if (this.#stopping || this.#restartTimer !== undefined) return;
    const delayMs = this.#restartBackoff(++this.#restarts);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopping) return;
      const stale = this.#member;
      void stale
        ?.disconnect()
        .catch(() => undefined)
        .then(() => (this.#stopping ? undefined : this.#run()))
        .catch((error: unknown) => {
          this.#logger.error(
            { group: this.groupId, error: toOmnibusError(error).message, attempt: this.#restarts },
            'kafka consumer restart failed',
          );
          this.#restartLater();
        });
    }, delayMs);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#pump();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#dueTimer);
    clearTimeout(this.#restartTimer);
    const member = this.#member!;
    member.stopFetching();
    while (this.#sinkCalls.size > 0 || this.#writes.size > 0) {
      await Promise.allSettled([...this.#writes, this.#sinkCalls.whenIdle()]);
    }
    this.#committer.stop();
    await this.#committer.flush();
    for (const tracker of this.#trackers.values()) tracker.discard();
    this.#trackers.clear();
    this.#order = [];
    try {
      await member.disconnect();
    } catch (error) {
      this.#logger.warn(
        { group: this.groupId, error: toOmnibusError(error).message },
        'kafka consumer disconnect failed',
      );
    }
    this.#deps.onClosed(this);
  }

  // --- group member events ----------------------------------------------------------------------

  #onGroupJoin(memberId: string, assignment: ReadonlyMap<string, readonly number[]>): void {
    const member = this.#member!;
    // A new member id means this member was dropped from the group meanwhile: others may have owned
    // its partitions since, so nothing it tracked is trusted.
    const memberChanged = this.#memberId !== undefined && this.#memberId !== memberId;
    this.#memberId = memberId;
    this.#crash = undefined;
    this.#restarts = 0;
    const assigned = new Set<string>();
    for (const [topic, partitions] of assignment)
      for (const partition of partitions) assigned.add(trackerKey(topic, partition));
    for (const [key, tracker] of this.#trackers) {
      if (!memberChanged && assigned.has(key)) continue;
      this.#forget(key, tracker);
    }
    const fresh = new Map<string, PartitionTracker<FetchedRecord>[]>();
    for (const [topic, partitions] of assignment) {
      for (const partition of partitions) {
        const key = trackerKey(topic, partition);
        const kept = this.#trackers.get(key);
        if (kept !== undefined) {
          // A new generation starts from the committed offset; continue after what is tracked.
          if (kept.nextOffset !== undefined) member.seek(topic, partition, kept.nextOffset);
          if (this.#fetchPaused.has(kept)) member.pause(topic, partition);
          continue;
        }
        const tracker = new PartitionTracker<FetchedRecord>(topic, partition);
        this.#trackers.set(key, tracker);
        member.resume(topic, partition);
        fresh.set(topic, [...(fresh.get(topic) ?? []), tracker]);
      }
    }
    for (const [topic, trackers] of fresh) this.#loadSettledOffsets(topic, trackers);
    this.#order = [...this.#trackers.values()];
    this.#rebalancing = false;
    this.#logger.debug(
      { group: this.groupId, memberId, partitions: [...assigned] },
      'kafka consumer joined its group',
    );
    this.#onJoined?.();
    this.#onJoined = undefined;
    this.#pump();
  }

  #onRebalancing(): void {
    // Stop handing out; what is settled is committed while this generation still owns the partitions.
    this.#rebalancing = true;
    void this.#committer.flush();
  }

  #onCrash(error: Error, restart: boolean): void {
    this.#logger.error(
      { group: this.groupId, error: error.message, restart },
      restart ? 'kafka consumer crashed: restarting' : 'kafka consumer crashed',
    );
    this.#rebalancing = true;
    for (const [key, tracker] of this.#trackers) this.#forget(key, tracker);
    this.#order = [];
    if (restart) return;
    this.#crash = error;
    if (this.#onJoined !== undefined) {
      // Not joined yet: `consume` fails instead.
      this.#onJoined(error);
      this.#onJoined = undefined;
    } else {
      this.#restartLater();
    }
  }

  #forget(key: string, tracker: PartitionTracker<FetchedRecord>): void {
    tracker.discard();
    this.#trackers.delete(key);
    this.#committer.forget(key);
    this.#loading.delete(tracker);
    this.#fetchPaused.delete(tracker);
  }

  /** The previous owner's commit metadata says which records after the committed offset are done. */
  #loadSettledOffsets(topic: string, trackers: PartitionTracker<FetchedRecord>[]): void {
    const loading = this.#deps.client
      .committedOffsets(this.groupId, topic)
      .then(
        (partitions) => {
          for (const tracker of trackers) {
            const committed = partitions.find((p) => p.partition === tracker.partition);
            tracker.skipSettled(decodeSettledOffsets(committed?.metadata));
          }
        },
        (error: unknown) => {
          // Without them every record after the committed offset is delivered: duplicates, never loss.
          this.#logger.warn(
            { group: this.groupId, topic, error: toOmnibusError(error).message },
            'could not read settled offsets from the commit metadata',
          );
        },
      )
      .finally(() => {
        for (const tracker of trackers) this.#loading.delete(tracker);
      });
    for (const tracker of trackers) this.#loading.set(tracker, loading);
  }

  async #onFetched(
    topic: string,
    partition: number,
    fetched: FetchedRaw[],
    lastOffset: number,
  ): Promise<void> {
    const tracker = this.#trackers.get(trackerKey(topic, partition));
    if (tracker === undefined) return; // revoked meanwhile: its next owner reads it
    const loading = this.#loading.get(tracker);
    if (loading !== undefined) await loading;
    if (tracker.discarded) return;
    const receivedAt = new Date();
    const rules: DecodeRules = {
      fromRetryTopic: topic === this.#deps.topology.retryTopic,
      latestDueAt: receivedAt.getTime() + this.#deps.options.maxRetryDelayMs,
      maxHeaders: this.#deps.options.consumer.maxHeaders,
      maxHeaderBytes: this.#deps.options.consumer.maxHeaderBytes,
    };
    const records = fetched.map((raw) => toFetchedRecord(raw, raw.offset, receivedAt, rules));
    tracker.accept(records, lastOffset);
    if (tracker.bufferedBytes >= this.#maxBufferedBytes && !this.#fetchPaused.has(tracker)) {
      this.#fetchPaused.add(tracker);
      this.#member!.pause(topic, partition);
    }
    this.#pump();
  }

  // --- handing out ------------------------------------------------------------------------------

  /** Hands out what may go, across partitions in turn; re-entrant calls fold into the running loop. */
  #pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#handOut();
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
    this.#resumeFetching();
  }

  #handOut(): void {
    if (this.#paused || this.#rebalancing || this.#stopping) return;
    const now = Date.now();
    const order = this.#order;
    let idle = 0;
    while (this.#unsettled < this.#deps.concurrency && idle < order.length) {
      const tracker = order[this.#turn++ % order.length]!;
      const entry = tracker.inFlight < this.#partitionLimit ? tracker.take(now) : undefined;
      if (entry === undefined) {
        idle++;
        continue;
      }
      idle = 0;
      this.#deliver(tracker, entry);
    }
    this.#scheduleDue(order);
  }

  #deliver(tracker: PartitionTracker<FetchedRecord>, entry: TrackedEntry<FetchedRecord>): void {
    this.#unsettled++;
    const delivery = new KafkaDelivery(this, tracker, entry);
    const refused = entry.record.refused;
    if (refused === undefined) {
      this.#sinkCalls.call(this.#deps.sink, delivery);
      return;
    }
    // Refused before decoding (over the header limits): it never reaches a handler.
    const failure: Failure = {
      message: refused,
      code: 'RECORD_REFUSED',
      attempts: entry.record.attempt,
      failedAt: new Date(),
    };
    delivery
      .deadLetter(failure)
      .catch((error: unknown) =>
        this.#logger.error(
          { group: this.groupId, offset: entry.record.offset, error: toOmnibusError(error).message },
          'kafka consumer: dead-lettering a refused record failed',
        ),
      );
  }

  /** Wakes the loop when the earliest delayed (retried) record becomes due. */
  #scheduleDue(order: readonly PartitionTracker<FetchedRecord>[]): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const tracker of order)
      earliest = Math.min(earliest, tracker.nextDueAt() ?? Number.POSITIVE_INFINITY);
    if (earliest === this.#dueAt && this.#dueTimer !== undefined) return;
    clearTimeout(this.#dueTimer);
    this.#dueTimer = undefined;
    this.#dueAt = earliest;
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.#dueTimer = setTimeout(
      () => {
        this.#dueTimer = undefined;
        this.#dueAt = Number.POSITIVE_INFINITY;
        this.#pump();
      },
      Math.max(0, earliest - Date.now()),
    );
  }

  #resumeFetching(): void {
    if (this.#fetchPaused.size === 0 || this.#stopping) return;
    for (const tracker of this.#fetchPaused) {
      if (tracker.bufferedBytes * 2 > this.#maxBufferedBytes) continue;
      this.#fetchPaused.delete(tracker);
      this.#member!.resume(tracker.topic, tracker.partition);
    }
  }

  // --- settling (DeliverySettler) -----------------------------------------------------------------

  settle(delivery: KafkaDelivery, outcome: Outcome): Promise<void> {
    if (outcome.kind === 'ack') {
      this.#settled(delivery);
      return DONE;
    }
    const record = delivery.entry.record;
    const write =
      outcome.kind === 'retry'
        ? this.#write(
            this.#deps.topology.retryTopic,
            toRetryMessage(record.raw, record.attempt + 1, Date.now() + this.#retryDelay(outcome.delayMs)),
          )
        : this.#write(
            this.#deps.topology.deadLetterTopic,
            toDeadLetterMessage(
              record.raw,
              withFailureHeaders(NO_HEADERS, outcome.failure, this.source).headers,
              record.refused === undefined,
            ),
          );
    return write.then(() => this.#settled(delivery));
  }

  /** A retry waits at least 0 ms and at most `maxRetryDelayMs` (a timer longer than 2^31-1 ms fires at once). */
  #retryDelay(delayMs: number): number {
    return Number.isFinite(delayMs) ? Math.min(Math.max(0, delayMs), this.#deps.options.maxRetryDelayMs) : 0;
  }

  #write(topic: string, message: OutgoingRecord): Promise<void> {
    const write = this.#deps.produce(topic, [message]);
    const tracked = write.then(
      () => undefined,
      () => undefined,
    );
    this.#writes.add(tracked);
    void tracked.then(() => this.#writes.delete(tracked));
    return write;
  }

  #settled(delivery: KafkaDelivery): void {
    this.#unsettled--;
    // A delivery of a revoked partition (or of an earlier assignment of it) settles without a commit.
    const tracker = delivery.tracker;
    if (!tracker.discarded && tracker.settle(delivery.entry)) this.#committer.schedule();
    this.#pump();
  }

  #guard(what: string, handle: () => void): void {
    try {
      handle();
    } catch (error) {
      this.#logger.error(
        { group: this.groupId, source: describeSource(this.source), error: toOmnibusError(error).message },
        `kafka consumer: handling ${what} failed`,
      );
    }
  }
}

/** An envelope with no headers: `withFailureHeaders` of it gives the failure headers alone. */
const NO_HEADERS = { id: '', type: '', headers: {}, body: new Uint8Array(0) };

function trackerKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}
