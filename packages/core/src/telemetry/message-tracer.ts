import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { toOmnibusError } from '../errors.js';
import type { MessageContext } from '../message-context.js';
import { Attribute } from './attributes.js';
import type { TelemetryOptions } from './telemetry.js';
import { INSTRUMENTATION_NAME, handlingContext } from './telemetry.js';

/**
 * Spans for work done on behalf of a message by code built on the bus (a saga step, a request/reply):
 * each is a child of the process span of the handling the message belongs to, or of the active context
 * outside a handling. A no-op without an SDK, like the rest.
 */
export class MessageTracer {
  readonly #tracer: Tracer;

  constructor(telemetry?: TelemetryOptions) {
    this.#tracer = (telemetry?.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_NAME);
  }

  /**
   * Runs `work` in a span named `name`, active while it runs. A rejection is recorded on the span
   * (exception event, `error.type`, status ERROR) and passed on; the span ends when `work` settles.
   */
  async span<T>(
    name: string,
    message: MessageContext | undefined,
    attributes: Attributes,
    work: (span: Span) => Promise<T>,
    kind: SpanKind = SpanKind.INTERNAL,
  ): Promise<T> {
    const parent = handlingContext(message) ?? context.active();
    const span = this.#tracer.startSpan(name, { kind, attributes }, parent);
    try {
      return await context.with(trace.setSpan(parent, span), () => work(span));
    } catch (error) {
      const failure = toOmnibusError(error);
      span.recordException(failure);
      span.setAttribute(Attribute.errorType, failure.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
      throw error;
    } finally {
      span.end();
    }
  }
}
