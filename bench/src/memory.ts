/**
 * `npm run bench -- memory [messages]`: end-to-end throughput on the in-memory bus (publish → decode →
 * default pipeline → decorated handler → ack, 256-byte JSON payload) and publish-to-handle latency,
 * beside a bare EventEmitter doing the same JSON work; then a 1,000,000-message run measuring heap growth
 * after warm-up. Without an OpenTelemetry SDK the bus's telemetry is the API's no-ops.
 *
 * `npm run bench -- memory [messages] --sdk`: the same bus with the OpenTelemetry SDK recording every
 * span (batch span processor, an exporter that drops the batches) and the metrics (an in-memory reader),
 * beside the bus without it, alternately three times; prints what the SDK costs per message.
 */
import 'reflect-metadata';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { TelemetryOptions } from '@omnibus/core';
import { Bus, Handle, MemoryTransport, Subscriber, defineEvent } from '@omnibus/core';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { percentile, printTable } from './table.js';

interface Tick {
  sentAt: number;
  seq: number;
  pad: string;
}
const Ticked = defineEvent<Tick>({ type: 'bench.Ticked', channel: 'bench' });
// JSON of {sentAt, seq, pad} comes to 256 bytes with this pad.
const PAD = 'x'.repeat(256 - JSON.stringify({ sentAt: performance.now(), seq: 1_000_000, pad: '' }).length);

const gc = (globalThis as { gc?: () => void }).gc;
/** End-to-end messages per second the default pipeline must reach on one core. */
const TARGET = 200_000;

interface Result {
  name: string;
  messages: number;
  seconds: number;
  /** CPU time of the process (user + system) during the run: steadier than wall time on a busy machine. */
  cpuSeconds: number;
  latencies: number[];
}

async function runBus(
  messages: number,
  sampleEvery = 1,
  onProgress?: (handled: number) => void,
  telemetry?: TelemetryOptions,
): Promise<Result> {
  const latencies: number[] = [];
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  @Subscriber({ group: 'bench', concurrency: 64 })
  class Handler {
    @Handle(Ticked)
    tick(event: Tick) {
      if (event.seq % sampleEvery === 0) latencies.push(performance.now() - event.sentAt);
      handled++;
      onProgress?.(handled);
      if (handled === messages) done();
    }
  }
  const bus = new Bus({
    transport: new MemoryTransport(),
    serviceName: 'bench',
    handlers: [Handler],
    ...(telemetry === undefined ? {} : { telemetry }),
  });
  await bus.start();
  const started = performance.now();
  const cpu = process.cpuUsage();
  const inFlight: Promise<void>[] = [];
  for (let seq = 0; seq < messages; seq++) {
    inFlight.push(bus.publish(Ticked, { sentAt: performance.now(), seq, pad: PAD }));
    if (inFlight.length === 256) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  await finished;
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = cpuOf(cpu);
  await bus.stop();
  const name = telemetry === undefined ? 'Omnibus bus (memory)' : 'Omnibus bus (memory) + OpenTelemetry SDK';
  return { name, messages, seconds, cpuSeconds, latencies };
}

async function runEmitter(messages: number): Promise<Result> {
  const latencies: number[] = [];
  const emitter = new EventEmitter();
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  emitter.on('tick', (body: Buffer) => {
    const event = JSON.parse(body.toString('utf8')) as Tick;
    latencies.push(performance.now() - event.sentAt);
    if (++handled === messages) done();
  });
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let seq = 0; seq < messages; seq++) {
    emitter.emit('tick', Buffer.from(JSON.stringify({ sentAt: performance.now(), seq, pad: PAD })));
    if (seq % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await finished;
  return {
    name: 'bare EventEmitter + JSON',
    messages,
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: cpuOf(cpu),
    latencies,
  };
}

function cpuOf(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

function row(result: Result) {
  const sorted = result.latencies.sort((a, b) => a - b);
  return {
    run: result.name,
    messages: result.messages,
    'msg/s': Math.round(result.messages / result.seconds),
    'CPU µs/msg': Number(((result.cpuSeconds / result.messages) * 1e6).toFixed(2)),
    'p50 ms': percentile(sorted, 50),
    'p99 ms': percentile(sorted, 99),
  };
}

/** Drops what it is given: the SDK's cost without an exporter's network. */
class DroppingExporter implements SpanExporter {
  spans = 0;
  export(spans: ReadableSpan[], done: Parameters<SpanExporter['export']>[1]): void {
    this.spans += spans.length;
    done({ code: 0 }); // ExportResultCode.SUCCESS
  }
  async shutdown(): Promise<void> {}
}

class KeptMetrics extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

async function runWithSdk(messages: number): Promise<void> {
  const exporter = new DroppingExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 65_536, maxExportBatchSize: 4_096 })],
  });
  const reader = new KeptMetrics();
  const telemetry = { tracerProvider, meterProvider: new MeterProvider({ readers: [reader] }) };
  await runBus(20_000, 1, undefined, telemetry); // warm-up
  await runBus(20_000);
  const rows = [];
  const api: number[] = [];
  const sdk: number[] = [];
  for (let round = 0; round < 3; round++) {
    const without = await runBus(messages);
    const withSdk = await runBus(messages, 1, undefined, telemetry);
    api.push((without.cpuSeconds / messages) * 1e6);
    sdk.push((withSdk.cpuSeconds / messages) * 1e6);
    rows.push(row(without), row(withSdk));
  }
  await tracerProvider.forceFlush();
  printTable(
    `In-memory bus, ${messages.toLocaleString('en-US')} messages, without and with the OpenTelemetry SDK, alternately`,
    rows,
  );
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[1]!;
  console.log(
    `SDK cost: ${(median(sdk) - median(api)).toFixed(1)} µs of CPU per message (median of 3: ` +
      `${median(api).toFixed(1)} → ${median(sdk).toFixed(1)} µs; 2 spans per message, send and process; ` +
      `${exporter.spans.toLocaleString('en-US')} spans reached the exporter, a full queue drops the rest).`,
  );
  await tracerProvider.shutdown();
}

export async function run(args: readonly string[]): Promise<void> {
  const messages = Number(args.find((arg) => !arg.startsWith('--')) ?? 200_000);
  if (args.includes('--sdk')) return runWithSdk(messages);
  await runBus(20_000); // warm-up
  await runEmitter(20_000);
  const bus = await runBus(messages);
  const emitter = await runEmitter(messages);
  printTable(
    `In-memory bus, ${messages.toLocaleString('en-US')} messages of 256 bytes (one process, one core)`,
    [row(bus), row(emitter)],
  );
  const busRate = messages / bus.seconds;
  console.log(
    `Omnibus at ${((busRate / (messages / emitter.seconds)) * 100).toFixed(0)}% of the bare emitter; ` +
      `target ${TARGET.toLocaleString('en-US')} msg/s ${busRate >= TARGET ? 'met' : 'NOT met'}.`,
  );

  const million = 1_000_000;
  const heap: { handled: number; heapMB: number }[] = [];
  const sample = (handled: number) => {
    if (handled % 100_000 === 0) {
      gc?.();
      heap.push({ handled, heapMB: process.memoryUsage().heapUsed / 2 ** 20 });
    }
  };
  const long = await runBus(million, 100, sample);
  const afterWarmUp = heap.find((h) => h.handled === 200_000)!.heapMB;
  const growth = Math.max(...heap.map((h) => h.heapMB)) - afterWarmUp;
  printTable(
    `1,000,000 messages: heap after warm-up (${gc ? 'gc before each sample' : 'run node with --expose-gc for exact figures'})`,
    [...heap.map((h) => ({ handled: h.handled, 'heap MB': h.heapMB }))],
  );
  const longRate = million / long.seconds;
  console.log(
    `1M run: ${Math.round(longRate).toLocaleString('en-US')} msg/s (target ${longRate >= TARGET ? 'met' : 'NOT met'}); ` +
      `heap growth after warm-up ${growth.toFixed(1)} MB (target < 50 MB: ${growth < 50 ? 'met' : 'NOT met'}).`,
  );
}
