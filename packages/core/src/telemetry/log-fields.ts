import { trace } from '@opentelemetry/api';
import type { Envelope } from '../envelope.js';
import { Header } from '../envelope.js';
import { handlingContext } from './telemetry.js';

/**
 * The fields every log entry about a message carries: its id, its correlation id, and, while a span
 * records its handling, the trace and span ids (W3C hex), so a log line finds its trace.
 */
// A type, not an interface: it spreads into the `Record<string, unknown>` of a log entry as it is.
export type MessageLogFields = {
  readonly messageId: string;
  readonly correlationId: string;
  readonly traceId?: string;
  readonly spanId?: string;
};

/**
 * The log fields of a message being handled, from its `MessageContext` (or a delivery): spread them into
 * a log entry, `logger.info({ ...messageLogFields(ctx), sku }, 'reserved')`. The bus's own entries about
 * a message (retry, dead letter, settle failure) carry the same fields.
 */
export function messageLogFields(message: { readonly envelope: Envelope }): MessageLogFields {
  const envelope = message.envelope;
  const correlationId = envelope.headers[Header.correlationId] ?? envelope.id;
  const active = handlingContext(message);
  const span = active === undefined ? undefined : trace.getSpanContext(active);
  return span === undefined
    ? { messageId: envelope.id, correlationId }
    : { messageId: envelope.id, correlationId, traceId: span.traceId, spanId: span.spanId };
}
