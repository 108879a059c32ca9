import 'reflect-metadata';
import { expect } from 'chai';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { DataPoint, MetricData } from '@opentelemetry/sdk-metrics';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { QueryContract, Transport } from '@omnibus/core';
import {
  Bus,
  Handle,
  MemoryTransport,
  RemoteError,
  Subscriber,
  TimeoutError,
  defineQuery,
  silentLogger,
} from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import type { TransportName } from '@omnibus/sample-kit';
import { createTransport, readSampleConfig } from '@omnibus/sample-kit';

const SYSTEM: Partial<Record<TransportName, string>> = { memory: 'omnibus_memory', rabbitmq: 'rabbitmq' };

interface Question {
  readonly n: number;
  readonly fail?: boolean;
  /** Answer only once the test lets it (see `release`). */
  readonly hold?: boolean;
}

/** A reader that collects only when asked. */
class OnDemandReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/** The sum of a counter's points whose attributes include `where`. */
function total(metrics: readonly MetricData[], name: string, where: Record<string, unknown> = {}): number {
  const metric = metrics.find((candidate) => candidate.descriptor.name === name);
  if (metric === undefined) return 0;
  return (metric.dataPoints as DataPoint<number>[])
    .filter((point) => Object.entries(where).every(([key, value]) => point.attributes[key] === value))
    .reduce((sum, point) => sum + point.value, 0);
}

for (const broker of ['memory', 'rabbitmq'] as const) {
  describeIntegration(
    `request/reply traces and metrics on ${broker}`,
    async () => {
      if (broker === 'memory') return;
      const probe = createTransport(readSampleConfig('probe', { ...process.env, OMNIBUS_TRANSPORT: broker }));
      try {
        await probe.connect(AbortSignal.timeout(10_000));
      } finally {
        await probe.close();
      }
    },
    function () {
      this.timeout(60_000);
      const buses: Bus[] = [];
      const transports: Transport[] = [];
      let release: () => void = () => undefined;
      let memory: MemoryTransport;
      let exporter: InMemorySpanExporter;
      let tracerProvider: BasicTracerProvider;
      let reader: OnDemandReader;
      let meterProvider: MeterProvider;
      let query: QueryContract<Question, number>;
      let requester: Bus;

      beforeEach(async function () {
        memory = new MemoryTransport();
        exporter = new InMemorySpanExporter();
        tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
        reader = new OnDemandReader();
        meterProvider = new MeterProvider({ readers: [reader] });
        query = defineQuery<Question, number>({ type: 'trace.Double', queue: uniqueName('trace-rq') });
        const held = new Promise<void>((resolve) => (release = resolve));

        @Subscriber({ group: 'doubler' })
        class Doubler {
          @Handle(query, { retry: { attempts: 1 } })
          async double(question: Question): Promise<number> {
            if (question.hold === true) await held;
            if (question.fail === true) throw new Error('cannot double');
            return question.n * 2;
          }
        }
        const telemetry = { tracerProvider, meterProvider };
        await bus('responder', [Doubler], telemetry).start();
        requester = bus('requester', [], telemetry);
        await requester.start();
      });

      afterEach(async function () {
        release();
        await Promise.allSettled(buses.splice(0).map((each) => each.stop()));
        await Promise.allSettled(transports.splice(0).map((each) => each.close()));
        await tracerProvider.shutdown();
        await meterProvider.shutdown();
      });

      function bus(
        service: string,
        handlers: ConstructorParameters<typeof Bus>[0]['handlers'],
        telemetry: object,
      ): Bus {
        const transport =
          broker === 'memory'
            ? memory
            : createTransport(readSampleConfig(service, { ...process.env, OMNIBUS_TRANSPORT: broker }));
        transports.push(transport);
        const created = new Bus({
          transport,
          serviceName: service,
          closeTransport: false,
          logger: silentLogger,
          handlers,
          telemetry,
        });
        buses.push(created);
        return created;
      }

      function only(name: string, kind: SpanKind): ReadableSpan {
        const found = exporter.getFinishedSpans().filter((span) => span.name === name && span.kind === kind);
        expect(found, `one ${SpanKind[kind]} span ${name}`).to.have.length(1);
        return found[0]!;
      }

      async function metrics(): Promise<MetricData[]> {
        const { resourceMetrics } = await reader.collect();
        return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
      }

      it('one trace: request → send → process → send reply, with the messaging attributes and the counts', async function () {
        expect(await requester.request(query, { n: 21 })).to.equal(42);
        await waitFor(() => exporter.getFinishedSpans().length >= 4);

        const request = only(`request ${query.queue}`, SpanKind.INTERNAL);
        const send = only(`send ${query.queue}`, SpanKind.PRODUCER);
        const process = only(`process ${query.queue}`, SpanKind.CONSUMER);
        const reply = only('send', SpanKind.PRODUCER);
        const traceId = request.spanContext().traceId;
        for (const span of [send, process, reply]) expect(span.spanContext().traceId).to.equal(traceId);
        expect(request.parentSpanContext).to.equal(undefined);
        expect(send.parentSpanContext?.spanId).to.equal(request.spanContext().spanId);
        expect(process.parentSpanContext?.spanId).to.equal(send.spanContext().spanId);
        expect(reply.parentSpanContext?.spanId).to.equal(process.spanContext().spanId);
        // The caller's wait ends with the reply: after the reply was sent. Exact in nanoseconds (a float
        // of 1.8e18 ns is not), and within the 1 ms by which two spans' clocks may differ: the OpenTelemetry
        // SDK anchors each span's start to Date.now(), which counts whole milliseconds.
        const ns = ([seconds, nanos]: readonly [number, number]): bigint =>
          BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
        expect(
          ns(request.endTime) + 1_000_000n >= ns(reply.startTime),
          'request ends after the reply starts',
        ).to.equal(true);

        expect(request.status.code).to.equal(SpanStatusCode.UNSET);
        expect(request.attributes).to.include({
          'messaging.system': SYSTEM[broker],
          'messaging.destination.name': query.queue,
          'cloudevents.event_type': query.type,
        });
        expect(send.attributes).to.include({
          'messaging.system': SYSTEM[broker],
          'messaging.destination.name': query.queue,
          'messaging.operation.type': 'send',
          'messaging.operation.name': 'send',
          'cloudevents.event_type': query.type,
        });
        expect(send.attributes['messaging.message.id']).to.equal(process.attributes['messaging.message.id']);
        expect(reply.attributes).to.include({
          'messaging.system': SYSTEM[broker],
          'messaging.operation.type': 'send',
          'messaging.destination.temporary': true,
          'messaging.destination.name': ((await requester.health()).details!.replies as { address: string })
            .address,
          'cloudevents.event_type': `${query.type}.reply`,
        });

        const measured = await metrics();
        const where = { 'messaging.destination.name': query.queue };
        expect(total(measured, 'omnibus.requests.sent', where)).to.equal(1);
        expect(total(measured, 'omnibus.replies.received', where)).to.equal(1);
        expect(total(measured, 'omnibus.requests.timed_out', where)).to.equal(0);
        expect(
          total(measured, 'messaging.client.sent.messages', { 'messaging.destination.temporary': true }),
        ).to.equal(1);
      });

      it('records a RemoteError on the request span, with the remote code, and counts the error reply', async function () {
        const failed = await requester.request(query, { n: 1, fail: true }).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failed).to.be.instanceOf(RemoteError);
        await waitFor(() =>
          exporter.getFinishedSpans().some((span) => span.name === `request ${query.queue}`),
        );
        const request = only(`request ${query.queue}`, SpanKind.INTERNAL);
        expect(request.status.code).to.equal(SpanStatusCode.ERROR);
        expect(request.attributes).to.include({
          'error.type': 'REMOTE_ERROR',
          'omnibus.request.remote_error_code': 'HANDLER_ERROR',
        });
        expect(request.events.map((event) => event.name)).to.include('exception');
        const where = { 'messaging.destination.name': query.queue };
        expect(
          total(await metrics(), 'omnibus.replies.received', { ...where, 'error.type': 'HANDLER_ERROR' }),
        ).to.equal(1);
      });

      it('records a TimeoutError on the request span, counts the timeout, then the late reply as dropped', async function () {
        const failed = await requester.request(query, { n: 1, hold: true }, { timeoutMs: 300 }).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failed).to.be.instanceOf(TimeoutError);
        const request = only(`request ${query.queue}`, SpanKind.INTERNAL);
        expect(request.status.code).to.equal(SpanStatusCode.ERROR);
        expect(request.attributes['error.type']).to.equal('TIMEOUT');
        const where = { 'messaging.destination.name': query.queue };
        let measured = await metrics();
        expect(total(measured, 'omnibus.requests.sent', where)).to.equal(1);
        expect(total(measured, 'omnibus.requests.timed_out', where)).to.equal(1);
        expect(total(measured, 'omnibus.replies.received', where)).to.equal(0);

        release();
        await waitFor(async () => {
          measured = await metrics();
          return total(measured, 'omnibus.replies.dropped', { 'omnibus.reply.drop_reason': 'late' }) === 1;
        });
        expect(
          total(measured, 'omnibus.replies.dropped', { 'omnibus.reply.drop_reason': 'unknown' }),
        ).to.equal(0);
      });
    },
  );
}
