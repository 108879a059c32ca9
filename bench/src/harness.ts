/** What the broker benchmarks share: the payload, the receiver that times it, windowed publishing, medians. */
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { percentile } from './table.js';

export interface Tick {
  sentAt: number;
  seq: number;
  pad: string;
}

/** JSON of a tick comes to 256 bytes with this pad. */
export const PAD = 'x'.repeat(
  256 - JSON.stringify({ sentAt: performance.now(), seq: 1_000_000, pad: '' }).length,
);

export const tick = (seq: number): Tick => ({ sentAt: performance.now(), seq, pad: PAD });

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Counts handled messages and their publish-to-handle latencies; resolves when `expected` are in. */
export class Receiver {
  handled = 0;
  /** When the first message of the current expectation arrived (performance.now()). */
  firstAt = 0;
  latencies: number[] = [];
  #expected = 0;
  #done: (() => void) | undefined;

  /** Rejects when they are not all in after `deadlineMs` (e.g. the broker was restarted under the run). */
  expect(count: number, deadlineMs = 600_000): Promise<void> {
    this.handled = 0;
    this.firstAt = 0;
    this.latencies = [];
    this.#expected = count;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${this.handled} of ${count} messages arrived in ${deadlineMs} ms`)),
        deadlineMs,
      );
      this.#done = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  receive(event: Tick): void {
    const now = performance.now();
    if (this.handled === 0) this.firstAt = now;
    this.latencies.push(now - event.sentAt);
    if (++this.handled === this.#expected) this.#done?.();
  }
}

/** Publishes `count` ticks with at most `window` unconfirmed; returns the seconds taken. */
export async function publishWindowed(
  count: number,
  window: number,
  publish: (t: Tick) => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  const inFlight = new Set<Promise<unknown>>();
  for (let seq = 0; seq < count; seq++) {
    const sent = publish(tick(seq)).finally(() => inFlight.delete(sent));
    inFlight.add(sent);
    if (inFlight.size >= window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return (performance.now() - started) / 1000;
}

/** The pid of the first process on this machine whose command line matches, if /proc can tell. */
export function findProcess(commandLine: RegExp): string | undefined {
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        if (commandLine.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) return pid;
      } catch {
        // gone, or not ours to read
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

/** A process's CPU time in microseconds (utime + stime, at the usual 100 ticks per second). */
export function processCpuMicros(pid: string | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}

/** What every broker round measures, whatever else it adds. */
export interface ThroughputRound {
  publish: number;
  consume: number;
  endToEnd: number;
  loaded: number[];
  unloaded: number[];
}

/** One round of a broker benchmark with the broker's CPU measured (RabbitMQ, moto). */
export interface BrokerRound extends ThroughputRound {
  /** CPU microseconds per message during the end-to-end phase. */
  clientCpu: number;
  brokerCpu: number | undefined;
}

/** The median of `f` over the rounds, rounded. */
export function medianOf<R>(rounds: readonly R[], f: (round: R) => number): number {
  return Math.round(median(rounds.map(f)));
}

/**
 * The columns every broker table has: median throughputs over the rounds, latencies of the median round
 * (loaded) and of all unloaded sends.
 */
export function throughputColumns(rounds: readonly ThroughputRound[]) {
  const middle = rounds.map((r) => r.endToEnd).indexOf(median(rounds.map((r) => r.endToEnd)));
  const loaded = [...rounds[middle]!.loaded].sort((a, b) => a - b);
  const unloaded = rounds.flatMap((r) => r.unloaded).sort((a, b) => a - b);
  return {
    'publish msg/s': medianOf(rounds, (r) => r.publish),
    'consume msg/s': medianOf(rounds, (r) => r.consume),
    'e2e msg/s': medianOf(rounds, (r) => r.endToEnd),
    'loaded p50 ms': percentile(loaded, 50),
    'loaded p99 ms': percentile(loaded, 99),
    'p50 ms': percentile(unloaded, 50),
    'p99 ms': percentile(unloaded, 99),
  };
}

/** The table row of a run with client and broker CPU (RabbitMQ, moto). */
export function summarize(name: string, rounds: readonly BrokerRound[]) {
  const brokerCpu = rounds.map((r) => r.brokerCpu).filter((cpu) => cpu !== undefined);
  return {
    run: name,
    ...throughputColumns(rounds),
    'client µs/msg': medianOf(rounds, (r) => r.clientCpu),
    'broker µs/msg': brokerCpu.length === 0 ? 'n/a' : Math.round(median(brokerCpu)),
  };
}

/** The phases of a broker round, in order; what differs between brokers is passed in. */
export interface BrokerPhases {
  readonly messages: number;
  readonly receiver: Receiver;
  /** Sends `count` ticks with at most `window` unconfirmed; returns the seconds taken. */
  readonly publishAll: (count: number, window: number) => Promise<number>;
  readonly startConsuming: () => Promise<void>;
  /** Unconfirmed publishes allowed in the loaded phases. */
  readonly window: number;
  /** Messages sent one at a time for the unloaded latency. */
  readonly unloaded: number;
  /** The broker process's CPU time so far, when it can be read. */
  readonly brokerCpuMicros: () => number | undefined;
}

/**
 * One round: publish `messages` with nobody consuming; start consuming and time the drain; publish and
 * consume at once (end to end, with client and broker CPU); then `unloaded` sends one at a time.
 */
export async function measureBrokerRound(phases: BrokerPhases): Promise<BrokerRound> {
  const { messages, receiver, publishAll, window } = phases;
  const publishSeconds = await publishAll(messages, window);
  const drained = receiver.expect(messages);
  let started = performance.now();
  await phases.startConsuming();
  await drained;
  const consumeSeconds = (performance.now() - started) / 1000;

  const endToEnd = receiver.expect(messages);
  const cpuBefore = process.cpuUsage();
  const brokerBefore = phases.brokerCpuMicros();
  started = performance.now();
  await publishAll(messages, window);
  await endToEnd;
  const endToEndSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const brokerAfter = phases.brokerCpuMicros();
  const loaded = receiver.latencies;

  const unloaded = receiver.expect(phases.unloaded);
  await publishAll(phases.unloaded, 1);
  await unloaded;
  return {
    publish: messages / publishSeconds,
    consume: messages / consumeSeconds,
    endToEnd: messages / endToEndSeconds,
    clientCpu: (cpu.user + cpu.system) / messages,
    brokerCpu:
      brokerBefore === undefined || brokerAfter === undefined
        ? undefined
        : (brokerAfter - brokerBefore) / messages,
    loaded,
    unloaded: receiver.latencies,
  };
}

/** "publish 97%, consume 105%, e2e 101%": row `subject`'s throughput columns as a share of row `baseline`'s. */
export function throughputRatios(
  rows: readonly Record<string, string | number>[],
  subject: number,
  baseline: number,
): string {
  return (['publish msg/s', 'consume msg/s', 'e2e msg/s'] as const)
    .map(
      (column) =>
        `${column.split(' ')[0]} ${((Number(rows[subject]![column]) / Number(rows[baseline]![column])) * 100).toFixed(0)}%`,
    )
    .join(', ');
}
