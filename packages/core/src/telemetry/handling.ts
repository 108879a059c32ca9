import type { Attributes, Context, Span } from '@opentelemetry/api';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { Header } from '../envelope.js';
import { toOmnibusError } from '../errors.js';
import type { Delivery, Source } from '../transport.js';
import type { Outcome } from './attributes.js';
import { Attribute } from './attributes.js';
import type { Telemetry } from './telemetry.js';
import { rememberHandling, sourceName } from './telemetry.js';
import { carriedContext } from './trace-context.js';

/**
 * The telemetry of one handling of one delivery: a CONSUMER `process` span whose parent is the creation
 * context the message carries (a foreign producer's `traceparent` too), the in-flight gauge, and on
 * `end` the outcome (ack, retry, dead letter) with the error recorded, the consumed counter and the
 * process duration. The dispatcher calls `retry`/`deadLetter` where it decides, and `end` once settled.
 */
export interface Handling {
  /** Runs `work` with the process span active, so spans the handler makes are its children. */
  run<T>(work: () => T): T;
  /** The handling is handed back for a later try, because of `error`. */
  retry(error: unknown, delayMs: number): void;
  /** The handling dead-letters its delivery, because of `error`, after `attempts` handler calls. */
  deadLetter(error: unknown, attempts: number): void;
  /** Settled, or given up on (`settleError`: settling itself failed, the delivery comes back). */
  end(settleError?: unknown): void;
}

/** What a handling costs when nothing records: nothing. */
const INERT: Handling = {
  run: (work) => work(),
  retry: () => undefined,
  deadLetter: () => undefined,
  end: () => undefined,
};

/** Starts the telemetry of one handling: `INERT` when no SDK records spans or metrics. */
export function startHandling(
  telemetry: Telemetry,
  source: Source,
  group: string | undefined,
  delivery: Delivery,
): Handling {
  const envelope = delivery.envelope;
  const name = sourceName(source);
  // Never the active context: a broker client's callback may run in whatever context it was set up in.
  const parent =
    envelope.headers[Header.traceParent] === undefined ? ROOT_CONTEXT : carriedContext(envelope.headers);
  const span = telemetry.tracer.startSpan(`process ${name}`, { kind: SpanKind.CONSUMER }, parent);
  if (!span.isRecording() && !telemetry.metered) return INERT;
  return new RecordedHandling(telemetry, span, telemetry.metricAttributes(name, 'process', group), delivery);
}

class RecordedHandling implements Handling {
  readonly #telemetry: Telemetry;
  readonly #span: Span;
  readonly #attributes: Attributes;
  readonly #start = performance.now();
  readonly #context: Context | undefined;
  #outcome: Outcome = 'ack';
  #error: unknown;

  constructor(telemetry: Telemetry, span: Span, attributes: Attributes, delivery: Delivery) {
    this.#telemetry = telemetry;
    this.#span = span;
    this.#attributes = attributes;
    const envelope = delivery.envelope;
    if (this.#span.isRecording()) {
      this.#span.setAttributes({
        ...this.#attributes,
        [Attribute.operationType]: 'process',
        [Attribute.messageId]: envelope.id,
        [Attribute.eventType]: envelope.type,
        [Attribute.conversationId]: envelope.headers[Header.correlationId] ?? envelope.id,
        [Attribute.bodySize]: envelope.body.byteLength,
        [Attribute.attempt]: delivery.attempt,
      });
      this.#context = trace.setSpan(ROOT_CONTEXT, this.#span);
      rememberHandling(envelope, this.#context);
    }
    telemetry.consumed.add(1, this.#attributes);
    telemetry.inFlight.add(1, this.#attributes);
  }

  run<T>(work: () => T): T {
    return this.#context === undefined ? work() : context.with(this.#context, work);
  }

  retry(error: unknown, delayMs: number): void {
    this.#outcome = 'retry';
    this.#error = error;
    this.#span.setAttribute(Attribute.retryDelay, delayMs);
    this.#telemetry.retried.add(1, this.#attributes);
  }

  deadLetter(error: unknown, attempts: number): void {
    this.#outcome = 'dead_letter';
    this.#error = error;
    this.#span.setAttribute(Attribute.attempts, attempts);
    this.#telemetry.deadLettered.add(1, this.#attributes);
  }

  end(settleError?: unknown): void {
    const error = settleError ?? this.#error;
    let attributes = this.#attributes;
    if (error !== undefined) {
      const failure = toOmnibusError(error);
      attributes = { ...attributes, [Attribute.errorType]: failure.code };
      if (this.#span.isRecording()) {
        this.#span.recordException(failure);
        this.#span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
        this.#span.setAttribute(Attribute.errorType, failure.code);
      }
    }
    if (this.#span.isRecording()) {
      this.#span.setAttribute(Attribute.outcome, settleError === undefined ? this.#outcome : 'unsettled');
    }
    this.#span.end();
    this.#telemetry.inFlight.add(-1, this.#attributes);
    this.#telemetry.processDuration.record((performance.now() - this.#start) / 1000, attributes);
  }
}
