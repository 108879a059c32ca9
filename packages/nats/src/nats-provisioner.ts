import type { ConsumerConfig, JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { Destination, Source } from '@omnibus/core';
import { TransportError } from '@omnibus/core';
import type { Topology } from '@omnibus/core/transport';
import { JsErrorCode, jsApiCode, toTransportError } from './nats-errors.js';
import type { NatsNames } from './nats-names.js';
import type { ResolvedNatsOptions } from './nats-options.js';

type StreamSpec = Pick<
  StreamConfig,
  'name' | 'subjects' | 'retention' | 'storage' | 'discard' | 'duplicate_window' | 'num_replicas'
>;
type ConsumerSpec = Pick<
  ConsumerConfig,
  | 'durable_name'
  | 'filter_subject'
  | 'ack_policy'
  | 'ack_wait'
  | 'max_deliver'
  | 'max_ack_pending'
  | 'deliver_policy'
>;

/**
 * Makes streams and durable consumers exist, idempotently: each is looked up first and, when it exists,
 * its configuration is compared with ours field by field; a difference is an `INCOMPATIBLE_TOPOLOGY`
 * error naming the field, both values and the fix, rather than a silent reuse with other semantics.
 * What was checked once is remembered for the transport's life.
 */
export class NatsProvisioner {
  readonly #ready = new Map<string, Promise<void>>();

  constructor(
    private readonly jsm: () => JetStreamManager,
    private readonly names: NatsNames,
    private readonly options: ResolvedNatsOptions,
  ) {}

  async provision(topology: Topology): Promise<void> {
    const work: Promise<void>[] = [];
    for (const channel of topology.channels ?? []) work.push(this.#channel(channel.name));
    for (const queue of topology.queues ?? [])
      work.push(this.ensureSource({ kind: 'queue', queue: queue.name }));
    for (const s of topology.subscriptions ?? []) {
      work.push(this.ensureSource({ kind: 'subscription', channel: s.channel, group: s.group }));
    }
    await Promise.all(work);
  }

  /** The stream behind a destination; a publish to a subject no stream holds would never be stored. */
  ensureDestination(destination: Destination): Promise<void> {
    return destination.kind === 'channel'
      ? this.#channel(destination.channel)
      : this.#queueStream(destination.queue);
  }

  /** The stream and durable consumer a source reads from. */
  ensureSource(source: Source): Promise<void> {
    const { stream, durable, subject } = this.names.consumerOf(source);
    const streamReady =
      source.kind === 'queue'
        ? this.#queueStream(source.queue)
        : source.kind === 'subscription'
          ? this.#channel(source.channel)
          : this.#deadLetterStream();
    return this.#once(`consumer:${stream}/${durable}`, async () => {
      await streamReady;
      await this.#consumer(stream, {
        durable_name: durable,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(this.options.ackWaitMs),
        // Unlimited on the server: JetStream's own exhaustion only stops delivering (an advisory, the
        // message left in the stream). The consumer counts deliveries itself and dead-letters with the
        // reason at `deliveryLimit` (see NatsConsumer).
        max_deliver: -1,
        max_ack_pending: this.options.maxAckPending,
        // A group gets what is published after it exists, as on every other broker.
        deliver_policy: source.kind === 'subscription' ? DeliverPolicy.New : DeliverPolicy.All,
      });
    });
  }

  #channel(channel: string): Promise<void> {
    const name = this.names.channelStream(channel);
    // Interest retention: a message stays until every group has acked it, and is not kept for none.
    return this.#once(`stream:${name}`, () =>
      this.#stream(this.#spec(name, this.names.channelSubject(channel), RetentionPolicy.Interest)),
    );
  }

  #queueStream(queue: string): Promise<void> {
    const name = this.names.queueStream(queue);
    return this.#once(`stream:${name}`, () =>
      this.#stream(this.#spec(name, this.names.queueSubject(queue), RetentionPolicy.Workqueue)),
    );
  }

  #deadLetterStream(): Promise<void> {
    const name = this.names.deadLetterStream;
    return this.#once(`stream:${name}`, () =>
      this.#stream(this.#spec(name, this.names.deadLetterSubjects, RetentionPolicy.Workqueue)),
    );
  }

  /** Makes sure the dead-letter stream exists before a consumer publishes into it. */
  ensureDeadLetters(): Promise<void> {
    return this.#deadLetterStream();
  }

  #spec(name: string, subject: string, retention: RetentionPolicy): StreamSpec {
    return {
      name,
      subjects: [subject],
      retention,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(this.options.duplicateWindowMs),
      num_replicas: 1,
    };
  }

  #once(key: string, make: () => Promise<void>): Promise<void> {
    let ready = this.#ready.get(key);
    if (ready === undefined) {
      ready = make();
      this.#ready.set(key, ready);
      // A failure is not remembered: the next call tries again.
      ready.catch(() => this.#ready.delete(key));
    }
    return ready;
  }

  async #stream(spec: StreamSpec): Promise<void> {
    const jsm = this.jsm();
    try {
      const info = await jsm.streams.info(spec.name);
      compare(`stream ${spec.name}`, spec, info.config);
      return;
    } catch (error) {
      if (jsApiCode(error) !== JsErrorCode.streamNotFound)
        throw toTransportError(error, `checking stream ${spec.name}`);
    }
    try {
      await jsm.streams.add(spec);
    } catch (error) {
      // Made meanwhile by another process: compare what it made.
      if (jsApiCode(error) === JsErrorCode.streamNameInUse) {
        const info = await jsm.streams.info(spec.name);
        compare(`stream ${spec.name}`, spec, info.config);
        return;
      }
      throw toTransportError(error, `creating stream ${spec.name}`);
    }
  }

  async #consumer(stream: string, spec: ConsumerSpec): Promise<void> {
    const jsm = this.jsm();
    const what = `consumer ${spec.durable_name} of stream ${stream}`;
    try {
      const info = await jsm.consumers.info(stream, spec.durable_name!);
      compare(what, spec, info.config);
      return;
    } catch (error) {
      if (jsApiCode(error) !== JsErrorCode.consumerNotFound)
        throw toTransportError(error, `checking ${what}`);
    }
    try {
      await jsm.consumers.add(stream, spec);
    } catch (error) {
      if (jsApiCode(error) === JsErrorCode.consumerNameExists) {
        const info = await jsm.consumers.info(stream, spec.durable_name!);
        compare(what, spec, info.config);
        return;
      }
      throw toTransportError(error, `creating ${what}`);
    }
  }
}

/** Every field we set must have our value on the server. */
function compare(what: string, ours: object, theirs: Record<string, unknown>): void {
  for (const [field, want] of Object.entries(ours)) {
    const have = theirs[field];
    if (JSON.stringify(have) === JSON.stringify(want)) continue;
    throw new TransportError(
      `${what} exists with ${field} = ${JSON.stringify(have)}, but this transport needs ${JSON.stringify(want)}; ` +
        'delete it (nats stream rm / nats consumer rm) or use another namePrefix',
      { code: 'INCOMPATIBLE_TOPOLOGY', retriable: false },
    );
  }
}
