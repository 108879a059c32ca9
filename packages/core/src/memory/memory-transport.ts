import type { Envelope } from '../envelope.js';
import { DONE } from '../done.js';
import { ConfigurationError, TransportError } from '../errors.js';
import type {
  Capabilities,
  Consumer,
  ConsumeOptions,
  DeliverySink,
  Destination,
  HealthReport,
  Source,
  Topology,
  Transport,
} from '../transport.js';
import { describeDestination, describeSource } from '../transport.js';
import { checkMessageSizes } from '../transport/message-size.js';
import { TransportClosedError } from '../transport/transport-errors.js';
import type { ReplyAddress, ReplySink, ReplyTransport } from '../request-reply/reply-transport.js';
import { MemoryQueue } from './memory-queue.js';
import { MemoryReplies } from './memory-replies.js';

export interface MemoryTransportOptions {
  /** Messages a queue holds before `publish` waits for room (backpressure). Default 10,000. */
  readonly maxQueueDepth?: number;
  /** Largest envelope accepted. Default 16 MiB. */
  readonly maxMessageBytes?: number;
}

/**
 * The embedded broker: the default transport, with the semantics of a real one. Channels fan out to
 * subscriber groups; members of a group, and consumers of a command queue, compete; per-key order with
 * parallelism across keys; at-least-once (unsettled deliveries come back when their consumer closes);
 * delayed retry; readable dead-letter queues; bounded queues. Not persistent: messages live as long as
 * the process.
 */
export class MemoryTransport implements Transport, ReplyTransport {
  readonly name = 'memory';
  readonly capabilities: Capabilities;
  readonly #maxQueueDepth: number;
  readonly #channels = new Map<string, Map<string, MemoryQueue>>();
  readonly #queues = new Map<string, MemoryQueue>();
  readonly #consumers = new Set<Consumer>();
  readonly #replies = new MemoryReplies();
  #closed = false;

  constructor(options: MemoryTransportOptions = {}) {
    this.#maxQueueDepth = options.maxQueueDepth ?? 10_000;
    const maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
    if (!Number.isInteger(this.#maxQueueDepth) || this.#maxQueueDepth < 1) {
      throw new ConfigurationError('maxQueueDepth', 'must be a positive integer');
    }
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) {
      throw new ConfigurationError('maxMessageBytes', 'must be a positive integer');
    }
    this.capabilities = {
      persistent: false,
      consumerGroups: true,
      ordering: 'key',
      delayedRetry: true,
      nativeDeadLetter: false,
      maxMessageBytes,
      restartable: false,
    };
  }

  async connect(): Promise<void> {
    this.#assertOpen();
  }

  async provision(topology: Topology): Promise<void> {
    this.#assertOpen();
    for (const channel of topology.channels ?? []) {
      if (!this.#channels.has(channel.name)) this.#channels.set(channel.name, new Map());
    }
    for (const queue of topology.queues ?? []) {
      if (!this.#queues.has(queue.name)) {
        this.#queues.set(
          queue.name,
          new MemoryQueue({ kind: 'queue', queue: queue.name }, this.#maxQueueDepth),
        );
      }
    }
    for (const subscription of topology.subscriptions ?? []) {
      let groups = this.#channels.get(subscription.channel);
      if (groups === undefined) {
        groups = new Map();
        this.#channels.set(subscription.channel, groups);
      }
      if (!groups.has(subscription.group)) {
        const source: Source = {
          kind: 'subscription',
          channel: subscription.channel,
          group: subscription.group,
        };
        groups.set(subscription.group, new MemoryQueue(source, this.#maxQueueDepth));
      }
    }
  }

  publish(destination: Destination, messages: readonly Envelope[]): Promise<void> {
    try {
      this.#assertOpen();
      const targets = this.#targets(destination);
      checkMessageSizes(messages, this.capabilities.maxMessageBytes);
      // The common case, room in every queue, enqueues without a promise per message.
      if (targets.every((queue) => queue.hasRoomFor(messages.length))) {
        for (const envelope of messages) for (const queue of targets) queue.enqueue(envelope);
        return DONE;
      }
      return this.#publishWithBackpressure(targets, messages);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new TransportError(String(error)));
    }
  }

  async #publishWithBackpressure(
    targets: readonly MemoryQueue[],
    messages: readonly Envelope[],
  ): Promise<void> {
    for (const envelope of messages) {
      for (const queue of targets) {
        let wait = queue.whenSpace();
        while (wait !== undefined) {
          await wait;
          this.#assertOpen();
          wait = queue.whenSpace();
        }
        queue.enqueue(envelope);
      }
    }
  }

  #targets(destination: Destination): MemoryQueue[] {
    if (destination.kind === 'channel') {
      const groups = this.#channels.get(destination.channel);
      if (groups === undefined) throw notProvisioned(describeDestination(destination));
      return [...groups.values()];
    }
    const queue = this.#queues.get(destination.queue);
    if (queue === undefined) throw notProvisioned(describeDestination(destination));
    return [queue];
  }

  #queueOf(source: Source): MemoryQueue {
    let queue: MemoryQueue | undefined;
    if (source.kind === 'subscription') queue = this.#channels.get(source.channel)?.get(source.group);
    else if (source.kind === 'queue') queue = this.#queues.get(source.queue);
    else queue = this.#queueOf(source.of).deadLetters;
    if (queue === undefined) throw notProvisioned(describeSource(source));
    return queue;
  }

  async consume(source: Source, sink: DeliverySink, options: ConsumeOptions): Promise<Consumer> {
    this.#assertOpen();
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new ConfigurationError('concurrency', 'must be a positive integer');
    }
    const consumer = this.#queueOf(source).attach(sink, options.concurrency);
    const tracked: Consumer = {
      source,
      pause: () => consumer.pause(),
      resume: () => consumer.resume(),
      close: async () => {
        await consumer.close();
        this.#consumers.delete(tracked);
      },
    };
    this.#consumers.add(tracked);
    return tracked;
  }

  async openReplies(sink: ReplySink): Promise<ReplyAddress> {
    this.#assertOpen();
    return this.#replies.open(sink);
  }

  publishReply(address: string, reply: Envelope): Promise<void> {
    if (this.#closed) return Promise.reject(new TransportClosedError('memory'));
    return this.#replies.publish(address, reply);
  }

  /** Messages waiting in a source's queue: for tests, health and the CLI. */
  depth(source: Source): number {
    return this.#queueOf(source).depth;
  }

  async health(): Promise<HealthReport> {
    return this.#closed
      ? { status: 'down', details: { reason: 'closed' } }
      : { status: 'up', details: { channels: this.#channels.size, queues: this.#queues.size } };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#replies.clear();
    // Queues before consumers, to reject publishers waiting for room: they may be handlers the consumers
    // wait for. And after, for the delayed retries those handlers scheduled while finishing.
    this.#shutdownQueues();
    await Promise.all([...this.#consumers].map((consumer) => consumer.close()));
    this.#shutdownQueues();
  }

  #shutdownQueues(): void {
    for (const groups of this.#channels.values()) for (const queue of groups.values()) queue.shutdown();
    for (const queue of this.#queues.values()) queue.shutdown();
  }

  #assertOpen(): void {
    if (this.#closed) throw new TransportClosedError('memory');
  }
}

function notProvisioned(what: string): TransportError {
  return new TransportError(`${what} is not provisioned`, { code: 'NOT_PROVISIONED', retriable: false });
}
