import type { Envelope } from './envelope.js';

/**
 * What a broker can do. The bus and the conformance suite read these flags; a flag may be false only
 * where the broker truly lacks the feature.
 */
export interface Capabilities {
  /** Messages survive a broker restart. */
  readonly persistent: boolean;
  /** Several subscriber groups on one channel each get every event. */
  readonly consumerGroups: boolean;
  /** `none`; `key`: messages with one key are delivered in publish order; `total`: one order for all. */
  readonly ordering: 'none' | 'key' | 'total';
  /** `Delivery.retry(delayMs)` waits at least `delayMs` before the redelivery. */
  readonly delayedRetry: boolean;
  /** The broker itself moves a message to the dead-letter queue after too many deliveries. */
  readonly nativeDeadLetter: boolean;
  /** Largest envelope (body plus headers) the broker accepts, in bytes. */
  readonly maxMessageBytes: number;
  /** There is a broker process that can be restarted under the transport (reconnect tests). */
  readonly restartable: boolean;
}

/** Where a message is published. */
export type Destination =
  { readonly kind: 'channel'; readonly channel: string } | { readonly kind: 'queue'; readonly queue: string };

/** Where a consumer reads from. */
export type Source =
  | { readonly kind: 'subscription'; readonly channel: string; readonly group: string }
  | { readonly kind: 'queue'; readonly queue: string }
  /** The dead-letter queue of another source: consumable like any queue, for inspection and replay. */
  | { readonly kind: 'deadLetters'; readonly of: SubscriptionSource | QueueSource };

export type SubscriptionSource = Extract<Source, { kind: 'subscription' }>;
export type QueueSource = Extract<Source, { kind: 'queue' }>;

export interface ChannelTopology {
  readonly name: string;
  /** Keep per-key order (Kafka keyed partitions, FIFO SNS/SQS, Pub/Sub ordering keys). */
  readonly ordered?: boolean;
}

export interface QueueTopology {
  readonly name: string;
  readonly ordered?: boolean;
  /**
   * Deliveries after which the broker may dead-letter on its own (SQS redrive, Pub/Sub policy): a hint
   * the bus derives from its handlers' retry budgets. A driver whose broker cannot change such an
   * argument on an existing queue (RabbitMQ's `x-delivery-limit`) may use a fixed option instead.
   */
  readonly maxDeliveries?: number;
}

export interface SubscriptionTopology {
  readonly channel: string;
  readonly group: string;
  /** Event types the group handles; a driver may use them to bind/filter, or deliver every type. */
  readonly types?: readonly string[];
  readonly maxDeliveries?: number;
}

/** Everything a bus needs to exist on the broker. Provisioning is idempotent and additive. */
export interface Topology {
  readonly channels?: readonly ChannelTopology[];
  readonly queues?: readonly QueueTopology[];
  readonly subscriptions?: readonly SubscriptionTopology[];
}

/** Why a message is dead-lettered; written into `omnibus-error-*` headers by {@link withFailureHeaders}. */
export interface Failure {
  readonly message: string;
  readonly code: string;
  readonly stack?: string;
  /**
   * Tries at handling the message, the last included: when the bus dead-letters, its handler calls (see
   * `RetryPolicy.attempts`); when a broker does (max deliveries exceeded), its delivery count.
   */
  readonly attempts: number;
  readonly failedAt: Date;
}

/**
 * One received message. Exactly one settlement counts: the first call of `ack`, `retry` or `deadLetter`;
 * later calls resolve without effect (so a double ack never closes a channel). A delivery that is not
 * settled when its consumer closes is released and delivered again later (at-least-once).
 */
export interface Delivery {
  readonly envelope: Envelope;
  /**
   * 1 on the first delivery; each `retry` adds one. A redelivery after a crash, close or rebalance adds
   * one where the broker counts deliveries (RabbitMQ quorum queues, SQS, Pub/Sub, memory); Kafka keeps
   * no such count, so there the redelivered message carries the attempt it had.
   */
  readonly attempt: number;
  readonly receivedAt: Date;
  /** Done: the broker forgets the message. */
  ack(): Promise<void>;
  /** Deliver again, to the same consumer group, no sooner than `delayMs` from now, with `attempt + 1`. */
  retry(delayMs: number): Promise<void>;
  /** Move to this source's dead-letter queue with the failure recorded in the headers. */
  deadLetter(failure: Failure): Promise<void>;
}

export interface ConsumeOptions {
  /** Deliveries handed to the sink at once (prefetch, flow control, pollers). */
  readonly concurrency: number;
}

/** The handle of one running consumer. */
export interface Consumer {
  readonly source: Source;
  /** Stop handing out new deliveries (in-flight ones continue); used by the circuit breaker. */
  pause(): void;
  resume(): void;
  /**
   * Stop taking deliveries, wait until every sink call in flight has returned, release the unsettled
   * ones for redelivery, and detach. Idempotent.
   */
  close(): Promise<void>;
}

export type DeliverySink = (delivery: Delivery) => Promise<void>;

export interface HealthReport {
  readonly status: 'up' | 'degraded' | 'down';
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * A broker driver: mechanisms only. Policy (how often to retry, when to dead-letter) lives in the bus.
 *
 * - `publish` resolves only once the broker has the messages durably (as durable as the broker is);
 *   it rejects with a `TransportError` otherwise, and never reports an unconfirmed message as sent.
 *   Messages of one call that share a key keep their order.
 * - `consume` calls `sink` once per delivery, at most `concurrency` at a time; on a channel or queue with
 *   ordering, the next message of a key is not handed out before the previous one is settled.
 * - `close` stops consumers the way `Consumer.close` does, then disconnects. After it, `publish` rejects.
 */
export interface Transport {
  readonly name: string;
  readonly capabilities: Capabilities;
  connect(signal?: AbortSignal): Promise<void>;
  provision(topology: Topology): Promise<void>;
  publish(destination: Destination, messages: readonly Envelope[]): Promise<void>;
  consume(source: Source, sink: DeliverySink, options: ConsumeOptions): Promise<Consumer>;
  health(): Promise<HealthReport>;
  close(): Promise<void>;
}

/** A readable name for logs, errors and the `omnibus-error-destination` header. */
export function describeSource(source: Source): string {
  switch (source.kind) {
    case 'subscription':
      return `${source.channel}/${source.group}`;
    case 'queue':
      return source.queue;
    case 'deadLetters':
      return `${describeSource(source.of)}.dlq`;
  }
}

export function describeDestination(destination: Destination): string {
  return destination.kind === 'channel' ? `channel:${destination.channel}` : `queue:${destination.queue}`;
}
