import type { Context, SpanContext } from '@opentelemetry/api';
import { ROOT_CONTEXT, createTraceState, isSpanContextValid, trace } from '@opentelemetry/api';
import { Header } from '../envelope.js';

/** `version-traceid-parentid-flags`, lowercase hex (W3C Trace Context, "traceparent Header Field Values"). */
const TRACE_PARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * A W3C `traceparent` (and `tracestate`) → a remote span context; undefined when the value is not a
 * valid one: version `ff`, a version 00 with more fields, all-zero ids, or not hex. A later version's
 * extra fields are ignored, as the spec asks.
 */
export function parseTraceParent(traceParent: string, traceState?: string): SpanContext | undefined {
  const match = TRACE_PARENT.exec(traceParent.trim());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  const context: SpanContext = {
    traceId,
    spanId,
    traceFlags: parseInt(flags, 16),
    isRemote: true,
    ...(traceState === undefined || traceState === '' ? {} : { traceState: createTraceState(traceState) }),
  };
  return isSpanContextValid(context) ? context : undefined;
}

/** A span context → its `traceparent` value (version 00). */
export function formatTraceParent(span: SpanContext): string {
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${span.traceId}-${span.spanId}-${flags}`;
}

/** The creation context a message carries, or undefined when it carries none (or a malformed one). */
export function carriedSpanContext(headers: Readonly<Record<string, string>>): SpanContext | undefined {
  const traceParent = headers[Header.traceParent];
  return traceParent === undefined ? undefined : parseTraceParent(traceParent, headers[Header.traceState]);
}

/** The context whose span is the message's creation context: the parent of its consumer span. */
export function carriedContext(headers: Readonly<Record<string, string>>): Context {
  const span = carriedSpanContext(headers);
  return span === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, span);
}

/** Writes `span` as the message's creation context (`traceparent`, and `tracestate` when it has one). */
export function writeSpanContext(headers: Record<string, string>, span: SpanContext): void {
  headers[Header.traceParent] = formatTraceParent(span);
  const state = span.traceState?.serialize();
  if (state !== undefined && state !== '') headers[Header.traceState] = state;
  else delete headers[Header.traceState];
}
