import type {
  Attributes,
  BatchObservableResult,
  ObservableResult,
  Context,
  Counter,
  Histogram,
  Link,
  Meter,
  MeterProvider,
  Span,
  SpanContext,
  Tracer,
  TracerProvider,
  UpDownCounter,
} from '@opentelemetry/api';
import { SpanKind, SpanStatusCode, context, createNoopMeter, metrics, trace } from '@opentelemetry/api';
import type { Envelope } from '../envelope.js';
import { Header } from '../envelope.js';
import { toOmnibusError } from '../errors.js';
import type { MessageContext } from '../message-context.js';
import type { Route } from '../handler-registry.js';
import type { OutboxLag } from '../outbox-relay.js';
import type { ReplyCounters } from '../request-reply/pending-requests.js';
import type { SagaStatus, SagaStore } from '../saga-store.js';
import type { CircuitState } from '../pipeline/circuit-breaker.js';
import type { Destination, Source } from '../transport.js';
import { Attribute, messagingSystem } from './attributes.js';
import { carriedSpanContext } from './trace-context.js';

/** The instrumentation scope of everything Omnibus emits. */
export const INSTRUMENTATION_NAME = '@omnibus/core';

/**
 * Where spans and metrics go. Both default to the global providers of `@opentelemetry/api`, which are
 * no-ops until an SDK registers itself: without one, Omnibus emits nothing and costs next to nothing.
 * Metrics take the meter provider registered when the bus (or relay) is made: register the SDK first.
 */
export interface TelemetryOptions {
  readonly tracerProvider?: TracerProvider;
  readonly meterProvider?: MeterProvider;
}

const CIRCUIT_VALUES: Readonly<Record<CircuitState, number>> = { closed: 0, 'half-open': 1, open: 2 };

/** Seconds buckets for the duration histograms, as the conventions advise. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * The tracer, the meter and the instruments of one bus or relay. Each hook in the bus is one call here:
 * a producer span and the sent-message metrics per publish, a `create` span for a message sent later
 * (by the outbox relay), and a consumer span plus the process metrics per handling (see `Handling`).
 */
export class Telemetry {
  readonly tracer: Tracer;
  readonly meter: Meter;
  /** The `messaging.system` of the transport. */
  readonly system: string;
  /** Whether a metrics SDK takes the measurements (else the meter is the API's no-op and they are skipped). */
  readonly metered: boolean;
  readonly sent: Counter;
  readonly operationDuration: Histogram;
  readonly consumed: Counter;
  readonly processDuration: Histogram;
  readonly retried: Counter;
  readonly deadLettered: Counter;
  readonly inFlight: UpDownCounter;
  readonly requestsSent: Counter;
  readonly repliesReceived: Counter;
  readonly requestsTimedOut: Counter;
  readonly #replyAttributes: Attributes;
  readonly #destinationAttributes = new Map<string, Attributes>();

  constructor(transportName: string, options: TelemetryOptions | undefined) {
    this.tracer = (options?.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_NAME);
    this.meter = (options?.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_NAME);
    this.system = messagingSystem(transportName);
    this.metered = this.meter.constructor !== NOOP_METER_CLASS;
    const seconds = { unit: 's', advice: { explicitBucketBoundaries: DURATION_BUCKETS } };
    this.sent = this.meter.createCounter('messaging.client.sent.messages', {
      unit: '{message}',
      description: 'Messages a producer attempted to send to the broker.',
    });
    this.operationDuration = this.meter.createHistogram('messaging.client.operation.duration', {
      ...seconds,
      description: 'Duration of a send to the broker.',
    });
    this.consumed = this.meter.createCounter('messaging.client.consumed.messages', {
      unit: '{message}',
      description: 'Messages delivered to the bus by the broker.',
    });
    this.processDuration = this.meter.createHistogram('messaging.process.duration', {
      ...seconds,
      description: 'Duration of a handling: decode, handler chain and settling.',
    });
    this.retried = this.meter.createCounter('omnibus.messages.retried', {
      unit: '{message}',
      description: 'Deliveries handed back for a later retry.',
    });
    this.deadLettered = this.meter.createCounter('omnibus.messages.dead_lettered', {
      unit: '{message}',
      description: 'Deliveries moved to a dead-letter queue.',
    });
    this.inFlight = this.meter.createUpDownCounter('omnibus.handlings.in_flight', {
      unit: '{message}',
      description: 'Handlings in progress.',
    });
    this.requestsSent = this.meter.createCounter('omnibus.requests.sent', {
      unit: '{request}',
      description: 'Requests (bus.request) published to their queue.',
    });
    this.repliesReceived = this.meter.createCounter('omnibus.replies.received', {
      unit: '{reply}',
      description: 'Replies that reached their waiting request (error replies with error.type).',
    });
    this.requestsTimedOut = this.meter.createCounter('omnibus.requests.timed_out', {
      unit: '{request}',
      description: 'Requests that got no reply in time.',
    });
    this.#replyAttributes = {
      [Attribute.system]: this.system,
      [Attribute.operationName]: 'send',
      [Attribute.temporary]: true,
    };
  }

  /**
   * Publishing one message now: a PRODUCER `send` span (child of the active context) whose context is
   * the message's creation context; `settle` ends it with the publish's outcome and records the metrics.
   * `parent` is a request's span, for the send of a request.
   */
  sendNow(destination: Destination, parent?: Context): Sending {
    const name = destinationName(destination);
    const span = this.tracer.startSpan(`send ${name}`, { kind: SpanKind.PRODUCER }, parent);
    if (!span.isRecording() && !this.metered) return INERT_SENDING;
    if (span.isRecording()) span.setAttributes(this.#sendSpanAttributes(name, 1));
    return new RecordedSending(this, span, this.#metricAttributes(name));
  }

  /**
   * Publishing messages built earlier (a handler's, or the outbox relay's rows): a CLIENT `send` span
   * linked to each message's creation context, as the conventions ask when `create` spans made those.
   */
  sendCreated(destination: Destination, envelopes: readonly Envelope[], parent?: Context): Sending {
    const name = destinationName(destination);
    const links: Link[] = [];
    for (const envelope of envelopes) {
      const carried = carriedSpanContext(envelope.headers);
      if (carried !== undefined) links.push({ context: carried });
    }
    const span = this.tracer.startSpan(
      `send ${name}`,
      { kind: SpanKind.CLIENT, attributes: this.#sendSpanAttributes(name, envelopes.length), links },
      parent ?? context.active(),
    );
    if (!span.isRecording() && !this.metered) return INERT_SENDING;
    return new RecordedSending(this, span, this.#metricAttributes(name), envelopes.length);
  }

  /**
   * Sending the reply to `request` (being handled) to its reply address: a PRODUCER `send` span, child
   * of the request's process span. The address is made for one instance, so it is not in the span's
   * name nor in the metric attributes (`messaging.destination.temporary` is).
   */
  sendReply(address: string, request: Envelope): Sending {
    const parent = handlingContext({ envelope: request }) ?? context.active();
    const span = this.tracer.startSpan('send', { kind: SpanKind.PRODUCER }, parent);
    if (!span.isRecording() && !this.metered) return INERT_SENDING;
    if (span.isRecording()) {
      span.setAttributes({
        ...this.#replyAttributes,
        [Attribute.destination]: address,
        [Attribute.operationType]: 'send',
      });
    }
    return new RecordedSending(this, span, this.#replyAttributes);
  }

  /**
   * While a bus runs: what its reply address dropped (`omnibus.replies.dropped`, by
   * `omnibus.reply.drop_reason`) and the replies its responders could not send
   * (`omnibus.replies.undelivered`), read from the bus's counters at each collection. Returns the
   * function that stops observing.
   */
  observeReplies(counters: ReplyCounters & { readonly undeliveredReplies: number }): () => void {
    const dropped = this.meter.createObservableCounter('omnibus.replies.dropped', {
      unit: '{message}',
      description: 'Messages on the reply address dropped: late (after the timeout), unknown, malformed.',
    });
    const undelivered = this.meter.createObservableCounter('omnibus.replies.undelivered', {
      unit: '{reply}',
      description: 'Replies a responder could not send (the caller waits until its timeout).',
    });
    const reason = (why: string): Attributes => ({
      [Attribute.system]: this.system,
      [Attribute.dropReason]: why,
    });
    const late = reason('late');
    const unknown = reason('unknown');
    const malformed = reason('malformed');
    const system = { [Attribute.system]: this.system };
    const callback = (result: BatchObservableResult): void => {
      result.observe(dropped, counters.lateReplies, late);
      result.observe(dropped, counters.unknownReplies, unknown);
      result.observe(dropped, counters.malformedReplies, malformed);
      result.observe(undelivered, counters.undeliveredReplies, system);
    };
    const observables = [dropped, undelivered];
    this.meter.addBatchObservableCallback(callback, observables);
    return () => this.meter.removeBatchObservableCallback(callback, observables);
  }

  /**
   * The creation context of a message that is sent later (by a handler's dispatch, the outbox relay, a
   * schedule): a PRODUCER `create` span, ended at once, child of the handling that `cause` is (or of
   * the active context). Undefined when nothing records spans.
   */
  create(
    destination: Destination,
    envelope: Envelope,
    cause: MessageContext | undefined,
  ): SpanContext | undefined {
    const parent = handlingContext(cause) ?? context.active();
    const name = destinationName(destination);
    const span = this.tracer.startSpan(`create ${name}`, { kind: SpanKind.PRODUCER }, parent);
    if (!span.isRecording()) return undefined;
    span.setAttributes({
      [Attribute.system]: this.system,
      [Attribute.destination]: name,
      [Attribute.operationType]: 'create',
      [Attribute.operationName]: 'create',
      [Attribute.messageId]: envelope.id,
      [Attribute.eventType]: envelope.type,
      [Attribute.conversationId]: envelope.headers[Header.correlationId] ?? envelope.id,
      [Attribute.bodySize]: envelope.body.byteLength,
    });
    span.end();
    return span.spanContext();
  }

  /**
   * While a relay runs: observable gauges of its outbox (pending rows, failed rows, age of the oldest
   * pending row) and of its scheduled messages, read from the stores at each collection. Returns the
   * function that stops observing.
   */
  observeOutbox(read: () => Promise<OutboxLag>): () => void {
    const backlog = this.meter.createObservableGauge('omnibus.outbox.backlog', {
      unit: '{message}',
      description: 'Outbox rows waiting to be published (failed rows excluded).',
    });
    const failed = this.meter.createObservableGauge('omnibus.outbox.failed', {
      unit: '{message}',
      description: 'Outbox rows given up on, waiting for an operator.',
    });
    const age = this.meter.createObservableGauge('omnibus.outbox.oldest_age', {
      unit: 's',
      description: 'How long the oldest pending outbox row has waited.',
    });
    const scheduled = this.meter.createObservableGauge('omnibus.schedules.pending', {
      unit: '{message}',
      description: 'Scheduled messages not yet due or not yet released.',
    });
    const attributes = { [Attribute.system]: this.system };
    const callback = async (result: BatchObservableResult): Promise<void> => {
      const lag = await read();
      result.observe(backlog, lag.pending, attributes);
      result.observe(failed, lag.failed, attributes);
      result.observe(age, lag.lagMs / 1000, attributes);
      if (lag.scheduled !== undefined) result.observe(scheduled, lag.scheduled.pending, attributes);
    };
    const observables = [backlog, failed, age, scheduled];
    this.meter.addBatchObservableCallback(callback, observables);
    return () => this.meter.removeBatchObservableCallback(callback, observables);
  }

  /**
   * While a bus runs: the state of each consumer's circuit breaker, 0 closed, 1 half-open, 2 open.
   * Returns the function that stops observing.
   */
  observeBreakers(routes: readonly Route[]): () => void {
    const breakers = routes.filter((route) => route.breaker !== undefined);
    if (breakers.length === 0) return () => undefined;
    const gauge = this.meter.createObservableGauge('omnibus.circuit_breaker.state', {
      description: 'Circuit breaker of a consumer: 0 closed, 1 half-open, 2 open.',
    });
    const callback = (result: ObservableResult): void => {
      for (const route of breakers) {
        const attributes = this.metricAttributes(sourceName(route.source), 'process', route.group);
        result.observe(CIRCUIT_VALUES[route.breaker!.state], attributes);
      }
    };
    gauge.addCallback(callback);
    return () => gauge.removeCallback(callback);
  }

  /** Metric attributes of one destination or source, made once. */
  metricAttributes(name: string, operation: string, group?: string): Attributes {
    const key = `${operation}\u0000${name}\u0000${group ?? ''}`;
    let attributes = this.#destinationAttributes.get(key);
    if (attributes === undefined) {
      attributes = {
        [Attribute.system]: this.system,
        [Attribute.destination]: name,
        [Attribute.operationName]: operation,
        ...(group === undefined ? {} : { [Attribute.consumerGroup]: group }),
      };
      this.#destinationAttributes.set(key, attributes);
    }
    return attributes;
  }

  #metricAttributes(name: string): Attributes {
    return this.metricAttributes(name, 'send');
  }

  #sendSpanAttributes(name: string, count: number): Attributes {
    return {
      [Attribute.system]: this.system,
      [Attribute.destination]: name,
      [Attribute.operationType]: 'send',
      [Attribute.operationName]: 'send',
      ...(count === 1 ? {} : { [Attribute.batchCount]: count }),
    };
  }
}

/** The class of the API's no-op meter: a meter of that class records nothing. */
const NOOP_METER_CLASS = createNoopMeter().constructor;

/** One send in progress: its span and its start, for the duration. */
export interface Sending {
  /** The span's context when it records: the creation context to write into the message. */
  readonly creationContext: SpanContext | undefined;
  /** Describes the single message of a `sendNow` on its span. */
  describe(envelope: Envelope): void;
  /** Ends the span and records the metrics when `publish` settles; returns it unchanged. */
  settle(publish: Promise<void>): Promise<void>;
  /** Ends the span (failed when `error` is given) and records the metrics. */
  end(error: unknown): void;
}

/** A send when nothing records spans or metrics: it passes the publish through untouched. */
const INERT_SENDING: Sending = {
  creationContext: undefined,
  describe: () => undefined,
  settle: (publish) => publish,
  end: () => undefined,
};

class RecordedSending implements Sending {
  readonly #telemetry: Telemetry;
  readonly #span: Span;
  readonly #attributes: Attributes;
  readonly #count: number;
  readonly #start = performance.now();

  constructor(telemetry: Telemetry, span: Span, attributes: Attributes, count = 1) {
    this.#telemetry = telemetry;
    this.#span = span;
    this.#attributes = attributes;
    this.#count = count;
  }

  /** The span's context when it records: the creation context to write into the message. */
  get creationContext(): SpanContext | undefined {
    return this.#span.isRecording() ? this.#span.spanContext() : undefined;
  }

  /** Describes the single message of a `sendNow` on its span. */
  describe(envelope: Envelope): void {
    if (!this.#span.isRecording()) return;
    this.#span.setAttributes({
      [Attribute.messageId]: envelope.id,
      [Attribute.eventType]: envelope.type,
      [Attribute.conversationId]: envelope.headers[Header.correlationId] ?? envelope.id,
      [Attribute.bodySize]: envelope.body.byteLength,
    });
  }

  /** Ends the span and records the metrics when `publish` settles; returns it unchanged. */
  settle(publish: Promise<void>): Promise<void> {
    return publish.then(
      () => this.end(undefined),
      (error: unknown) => {
        this.end(error);
        throw error;
      },
    );
  }

  /** Ends the span (failed when `error` is given) and records the metrics. */
  end(error: unknown): void {
    const seconds = (performance.now() - this.#start) / 1000;
    let attributes = this.#attributes;
    if (error !== undefined) {
      const failure = toOmnibusError(error);
      attributes = { ...attributes, [Attribute.errorType]: failure.code };
      this.#span.recordException(failure);
      this.#span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
      this.#span.setAttribute(Attribute.errorType, failure.code);
    }
    this.#telemetry.sent.add(this.#count, attributes);
    this.#telemetry.operationDuration.record(seconds, attributes);
    this.#span.end();
  }
}

/**
 * An observable gauge `omnibus.sagas.instances` (attributes `omnibus.saga.name`, `omnibus.saga.status`)
 * read from `store.count` at each collection, for as long as the meter provider lives. A store without
 * `count` is not observed.
 */
export function observeSagaInstances(
  telemetry: TelemetryOptions | undefined,
  sagas: readonly string[],
  store: SagaStore,
): void {
  const count = store.count?.bind(store);
  if (count === undefined) return;
  const meter = (telemetry?.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_NAME);
  const gauge = meter.createObservableGauge('omnibus.sagas.instances', {
    unit: '{instance}',
    description: 'Saga instances per saga and status.',
  });
  gauge.addCallback(async (result) => {
    for (const saga of sagas) {
      const counts = await count(saga);
      for (const status of Object.keys(counts) as SagaStatus[]) {
        result.observe(counts[status], { 'omnibus.saga.name': saga, 'omnibus.saga.status': status });
      }
    }
  });
}

/** Each message being handled: its process span's context, the parent of what its handling does. */
const handlings = new WeakMap<Envelope, Context>();

/** Remembers the process span of a handling, for the spans of what it does (see `handlingContext`). */
export function rememberHandling(envelope: Envelope, spanContext: Context): void {
  handlings.set(envelope, spanContext);
}

/**
 * The context of the process span of the handling `message` belongs to, when one records: the parent
 * for spans made on its behalf (a message it creates, a saga step, a request), even without an async
 * context manager.
 */
export function handlingContext(message: { readonly envelope: Envelope } | undefined): Context | undefined {
  return message === undefined ? undefined : handlings.get(message.envelope);
}

/** The `{destination}` of span names and `messaging.destination.name`: the channel or queue. */
export function destinationName(destination: Destination): string {
  return destination.kind === 'channel' ? destination.channel : destination.queue;
}

/** The same for a consumer's source (a dead-letter queue is named after its source). */
export function sourceName(source: Source): string {
  switch (source.kind) {
    case 'subscription':
      return source.channel;
    case 'queue':
      return source.queue;
    case 'deadLetters':
      return `${sourceName(source.of)}.dlq`;
  }
}
