import type { IncomingMessage, ServerResponse } from 'node:http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK, metrics, tracing } from '@opentelemetry/sdk-node';
import { integer, text } from './sample-config.js';

/** The OpenTelemetry SDK of one service process, and its Prometheus metrics. */
export interface SampleTelemetry {
  /** Whether spans and metrics also go to an OTLP collector (`OTEL_EXPORTER_OTLP_ENDPOINT` is set). */
  readonly otlp: boolean;
  /** Serves `GET /metrics` in the Prometheus text format. */
  readonly metrics: (request: IncomingMessage, response: ServerResponse) => void;
  /** Flushes what is buffered and stops the SDK. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry Node SDK for `service`, before the service makes its bus (the bus takes the
 * global providers it finds then): async context propagation, metrics for a Prometheus scrape of
 * `/metrics`, and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, OTLP/HTTP export of spans (batched) and
 * metrics (every `OTEL_METRIC_EXPORT_INTERVAL` ms, default 60 s). The other standard `OTEL_*` variables
 * (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, headers) apply as the SDK reads them.
 */
export function startSampleTelemetry(service: string, env: NodeJS.ProcessEnv = process.env): SampleTelemetry {
  const otlp = text(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined;
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const sdk = new NodeSDK({
    serviceName: text(env, 'OTEL_SERVICE_NAME') ?? service,
    spanProcessors: otlp ? [new tracing.BatchSpanProcessor(new OTLPTraceExporter())] : [],
    metricReaders: otlp
      ? [
          prometheus,
          new metrics.PeriodicExportingMetricReader({
            exporter: new OTLPMetricExporter(),
            exportIntervalMillis: integer(env, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000),
          }),
        ]
      : [prometheus],
    instrumentations: [],
  });
  sdk.start();
  return {
    otlp,
    metrics: (request, response) => prometheus.getMetricsRequestHandler(request, response),
    shutdown: () => sdk.shutdown(),
  };
}
