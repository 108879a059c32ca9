import 'reflect-metadata';
import { expect } from 'chai';
import { Bus, MemoryPersistence, MemoryTransport, constant, silentLogger } from '@omnibus/core';
import { waitFor } from '@omnibus/core/testing';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { GaugeMetricData } from '@opentelemetry/sdk-metrics';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { MemorySagaStore, SagaRuntime } from '../src/index.js';
import { OrderFulfilment, OrderPlaced, StockReserved } from './order-fulfilment.js';

describe('saga steps as spans', function () {
  it('makes each step a span, child of its handling, with the saga name, key, version and step', async function () {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const transport = new MemoryTransport();
    const runtime = new SagaRuntime({
      store: new MemorySagaStore(),
      sagas: [OrderFulfilment],
      scheduler: { schedule: async () => undefined, cancel: async () => undefined },
      telemetry: { tracerProvider: provider },
    });
    const bus = new Bus({
      transport,
      serviceName: 'orders',
      persistence: new MemoryPersistence(),
      handlers: runtime.handlers,
      logger: silentLogger,
      retry: { attempts: 3, backoff: constant(0) },
      outboxRelay: { pollIntervalMs: 5 },
      telemetry: { tracerProvider: provider },
    });
    await bus.start();
    try {
      const steps = (): ReadableSpan[] =>
        exporter.getFinishedSpans().filter((span) => span.name === 'saga order-fulfilment');
      await bus.publish(OrderPlaced, { orderId: 'traced', amount: 5, lines: [] });
      await waitFor(() => steps().length === 1);
      await bus.publish(StockReserved, { orderId: 'traced' });
      await waitFor(() => steps().length === 2);
      const processes = exporter.getFinishedSpans().filter((span) => span.name.startsWith('process '));
      for (const [index, span] of steps().entries()) {
        expect(span.attributes).to.include({
          'omnibus.saga.name': 'order-fulfilment',
          'omnibus.saga.key': 'traced',
          'omnibus.saga.version': index + 1,
          'omnibus.saga.outcome': 'handled',
        });
        const parent = processes.find((p) => p.spanContext().spanId === span.parentSpanContext?.spanId);
        expect(parent, 'the handling of the step').to.not.equal(undefined);
      }
      expect(steps().map((span) => span.attributes['omnibus.saga.step'])).to.deep.equal([
        OrderPlaced.type,
        StockReserved.type,
      ]);
    } finally {
      await bus.stop();
    }
  });

  it('counts instances per saga and status in a gauge read from the store', async function () {
    class Reader extends MetricReader {
      protected async onShutdown(): Promise<void> {}
      protected async onForceFlush(): Promise<void> {}
    }
    const reader = new Reader();
    const store = new MemorySagaStore();
    const runtime = new SagaRuntime({
      store,
      sagas: [OrderFulfilment],
      scheduler: { schedule: async () => undefined, cancel: async () => undefined },
      telemetry: { meterProvider: new MeterProvider({ readers: [reader] }) },
    });
    const bus = new Bus({
      transport: new MemoryTransport(),
      serviceName: 'orders',
      persistence: new MemoryPersistence(),
      handlers: runtime.handlers,
      logger: silentLogger,
      outboxRelay: { pollIntervalMs: 5 },
    });
    await bus.start();
    try {
      for (const orderId of ['a', 'b', 'c']) {
        await bus.publish(OrderPlaced, { orderId, amount: 5, lines: [] });
      }
      await waitFor(async () => (await store.count('order-fulfilment')).running === 3);
      const { resourceMetrics } = await reader.collect();
      const gauge = resourceMetrics.scopeMetrics
        .flatMap((scope) => scope.metrics)
        .find((metric) => metric.descriptor.name === 'omnibus.sagas.instances') as GaugeMetricData;
      const byStatus: Record<string, number> = {};
      for (const point of gauge.dataPoints)
        byStatus[String(point.attributes['omnibus.saga.status'])] = point.value;
      expect(byStatus).to.deep.equal({ running: 3, completed: 0 });
      expect(gauge.dataPoints[0]!.attributes['omnibus.saga.name']).to.equal('order-fulfilment');
    } finally {
      await bus.stop();
    }
  });
});
