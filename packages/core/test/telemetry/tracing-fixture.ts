import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** A tracer provider of its own per test (nothing global but the context manager), spans kept in memory. */
export function tracing(): { provider: BasicTracerProvider; spans: () => ReadableSpan[] } {
  enableContext();
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { provider, spans: () => exporter.getFinishedSpans() };
}

let enabled = false;
/** Async context propagation, as the Node SDK registers it (without it `context.active()` is always root). */
function enableContext(): void {
  if (enabled) return;
  enabled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

/** The spans named `name`, in the order they ended. */
export function named(spans: readonly ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((span) => span.name === name);
}

export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
