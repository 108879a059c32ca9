import type { Context } from '@opentelemetry/api';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { TimeoutError, toOmnibusError } from '../errors.js';
import type { MessageContext } from '../message-context.js';
import { RemoteError } from '../request-reply/request-errors.js';
import { Attribute } from './attributes.js';
import type { Telemetry } from './telemetry.js';
import { handlingContext } from './telemetry.js';

/**
 * The asking side of one request: an INTERNAL `request {queue}` span (child of the handling `cause`
 * is, else of the active context) that lasts from the call until the reply, and ends with what the
 * caller gets: the reply, or the error recorded (`TimeoutError`, `RemoteError` with the remote code,
 * `NoResponderError`...). `ask` gets the span's context, the parent of the request's `send` span. Counts
 * `omnibus.replies.received` (`error.type` the remote code of an error reply) and
 * `omnibus.requests.timed_out` per queue; `Outgoing.sendRequest` counts `omnibus.requests.sent`.
 */
export async function traceRequest<T>(
  telemetry: Telemetry,
  queue: string,
  type: string,
  cause: MessageContext | undefined,
  ask: (parent: Context) => Promise<T>,
): Promise<T> {
  const parent = handlingContext(cause) ?? context.active();
  const span = telemetry.tracer.startSpan(`request ${queue}`, { kind: SpanKind.INTERNAL }, parent);
  if (!span.isRecording() && !telemetry.metered) return ask(parent);
  const attributes = telemetry.metricAttributes(queue, 'request');
  if (span.isRecording()) {
    span.setAttributes({
      [Attribute.system]: telemetry.system,
      [Attribute.destination]: queue,
      [Attribute.eventType]: type,
    });
  }
  try {
    const reply = await ask(trace.setSpan(parent, span));
    telemetry.repliesReceived.add(1, attributes);
    return reply;
  } catch (error) {
    const failure = toOmnibusError(error);
    if (failure instanceof RemoteError) {
      telemetry.repliesReceived.add(1, { ...attributes, [Attribute.errorType]: failure.remoteCode });
      span.setAttribute(Attribute.remoteCode, failure.remoteCode);
    } else if (failure instanceof TimeoutError) {
      telemetry.requestsTimedOut.add(1, attributes);
    }
    span.recordException(failure);
    span.setAttribute(Attribute.errorType, failure.code);
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    throw error;
  } finally {
    span.end();
  }
}
