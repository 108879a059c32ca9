import type { Channel } from 'amqplib';
import { connect } from 'amqplib';
import type { Destination, Envelope, Source, Transport } from '@omnibus/core';
import type {
  Consumer,
  ConsumeOptions,
  DeliverySink,
  HealthReport,
  ReplyAddress,
  ReplySink,
  ReplyTransport,
  Topology,
} from '@omnibus/core/transport';
import { RabbitMqNames } from '../src/index.js';

/**
 * The lab broker keeps its data between runs, and every test declares fresh quorum queues: this deletes
 * what the tests declared, so runs do not pile up queues (each one a Raft group) on a shared machine.
 * `track` wraps a transport to record the topology provisioned through it.
 */
export class BrokerCleanup {
  readonly #names = new RabbitMqNames('');
  readonly #exchanges = new Set<string>();
  readonly #queues = new Set<string>();

  constructor(readonly url: string) {}

  track(transport: Transport): Transport {
    return new RecordingTransport(transport, (topology) => this.record(topology));
  }

  record(topology: Topology): void {
    for (const channel of topology.channels ?? []) this.#exchanges.add(this.#names.exchange(channel.name));
    for (const queue of topology.queues ?? [])
      this.#queues.add(this.#names.queue({ kind: 'queue', queue: queue.name }));
    for (const subscription of topology.subscriptions ?? []) {
      this.#exchanges.add(this.#names.exchange(subscription.channel));
      this.#queues.add(this.#names.queue({ kind: 'subscription', ...subscription }));
    }
  }

  /** Deletes the recorded exchanges and queues with their dead-letter and retry queues. */
  async run(): Promise<void> {
    const connection = await connect(this.url);
    try {
      const channel: Channel = await connection.createChannel();
      for (const queue of this.#queues) {
        const related = [queue, `${queue}.dlq`];
        for (let exponent = 0; exponent <= 32; exponent++) related.push(`${queue}.delay.${2 ** exponent}`);
        for (const name of related) await channel.deleteQueue(name);
      }
      for (const exchange of this.#exchanges) await channel.deleteExchange(exchange);
      this.#queues.clear();
      this.#exchanges.clear();
    } finally {
      await connection.close();
    }
  }
}

class RecordingTransport implements Transport, ReplyTransport {
  constructor(
    readonly inner: Transport,
    readonly onProvision: (topology: Topology) => void,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  get capabilities() {
    return this.inner.capabilities;
  }

  connect(signal?: AbortSignal): Promise<void> {
    return this.inner.connect(signal);
  }

  provision(topology: Topology): Promise<void> {
    this.onProvision(topology);
    return this.inner.provision(topology);
  }

  publish(destination: Destination, messages: readonly Envelope[]): Promise<void> {
    return this.inner.publish(destination, messages);
  }

  consume(source: Source, sink: DeliverySink, options: ConsumeOptions): Promise<Consumer> {
    return this.inner.consume(source, sink, options);
  }

  health(): Promise<HealthReport> {
    return this.inner.health();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  // Request/reply passes through: reply queues are exclusive and go away with their connection.
  openReplies(sink: ReplySink): Promise<ReplyAddress> {
    return (this.inner as Transport & ReplyTransport).openReplies(sink);
  }

  publishReply(address: string, reply: Envelope): Promise<void> {
    return (this.inner as Transport & ReplyTransport).publishReply(address, reply);
  }
}
