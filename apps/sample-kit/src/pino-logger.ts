import type { Logger, LogLevel } from '@omnibus/core';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { pino } from 'pino';

/**
 * The bus's `Logger` as pino (structured JSON, one line per entry, on stderr), with `service` on every
 * line and the active span's `traceId`/`spanId` on each line written inside one (an HTTP request, a
 * handling), so every log line finds its trace. Entries the bus writes about a message already carry
 * them with its `correlationId` (see `messageLogFields`).
 */
export function pinoLogger(service: string, level: LogLevel | 'silent'): Logger {
  return pino(
    {
      level,
      base: { service },
      mixin: () => {
        const span = trace.getActiveSpan()?.spanContext();
        return span !== undefined && isSpanContextValid(span)
          ? { traceId: span.traceId, spanId: span.spanId }
          : {};
      },
    },
    pino.destination(2),
  );
}
