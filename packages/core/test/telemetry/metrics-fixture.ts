import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';

/** A reader that collects only when asked: what an exporter would see at that moment. */
class OnDemandReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

export interface Metrics {
  readonly provider: MeterProvider;
  /** Every metric now, by name. */
  readonly collect: () => Promise<Map<string, MetricData>>;
}

export function metering(): Metrics {
  const reader = new OnDemandReader();
  const provider = new MeterProvider({ readers: [reader] });
  return {
    provider,
    collect: async () => {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw errors[0] as Error;
      const byName = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
      }
      return byName;
    },
  };
}

/** The sum of a counter's (or gauge's) points whose attributes include `where`. */
export function total(
  metrics: Map<string, MetricData>,
  name: string,
  where: Record<string, unknown> = {},
): number {
  let sum = 0;
  for (const point of points(metrics, name, where)) sum += point.value as number;
  return sum;
}

/** How many values a histogram recorded over its points whose attributes include `where`. */
export function recorded(
  metrics: Map<string, MetricData>,
  name: string,
  where: Record<string, unknown> = {},
): number {
  let count = 0;
  for (const point of points(metrics, name, where)) count += (point.value as Histogram).count;
  return count;
}

function points(
  metrics: Map<string, MetricData>,
  name: string,
  where: Record<string, unknown>,
): DataPoint<unknown>[] {
  const metric = metrics.get(name);
  if (metric === undefined) return [];
  return (metric.dataPoints as DataPoint<unknown>[]).filter((point) =>
    Object.entries(where).every(([key, value]) => point.attributes[key] === value),
  );
}
