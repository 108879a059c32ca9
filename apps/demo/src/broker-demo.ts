import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Bus } from '@omnibus/core';
import { INITIAL_STOCK } from '@omnibus/inventory-service';
import type { TransportName } from '@omnibus/sample-kit';
import {
  ProcessPayment,
  createAvro,
  createTransport,
  readSampleConfig,
  startLocalRegistry,
} from '@omnibus/sample-kit';
import { DeadLetterWatch } from './dead-letter-watch.js';
import type { SampleOutcome } from './invariants.js';
import { violations } from './invariants.js';
import { SampleReader } from './sample-reader.js';
import type { SampleService } from './service-process.js';
import { ServiceProcess } from './service-process.js';

export type BrokerName = Exclude<TransportName, 'memory'>;

/** The name `scripts/brokers` knows each broker by. */
const LAB_NAME: Record<BrokerName, string> = {
  rabbitmq: 'rabbitmq',
  kafka: 'kafka',
  aws: 'aws',
  pubsub: 'pubsub',
  nats: 'nats',
  amqp10: 'activemq',
};

export interface BrokerDemoOptions {
  readonly broker: BrokerName;
  readonly orders: number;
  /** Poison commands to send (dead-lettered with their reason). Default 1. */
  readonly poison?: number;
  /** SIGKILL the first payment instance once this many orders are placed, then start it again. */
  readonly killPaymentAfter?: number;
  /** `scripts/brokers restart` once this many orders are placed. */
  readonly restartBrokerAfter?: number;
  /** The saga's payment timeout (default 4 s) and how late the gateway answers `late` customers (6 s). */
  readonly paymentTimeoutMs?: number;
  readonly lateMs?: number;
  /** How long the run may take to settle after the last order is placed. Default 60 s. */
  readonly settleTimeoutMs?: number;
  /** Progress as the run goes: placed and final orders. */
  readonly onProgress?: (progress: { placed: number; final: number; total: number }) => void;
  /** A line about what the run does (services started, killed, broker restarted). */
  readonly onStep?: (step: string) => void;
}

export interface BrokerDemoResult extends SampleOutcome {
  readonly violations: readonly string[];
  /** Orders per outcome: confirmed, rejected, cancelled (declined), cancelled (timed out, refunded). */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Order completion time (placed → final state), in ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly elapsedMs: number;
  /** The last lines each service process wrote to stderr (its logs), to explain a violation. */
  readonly logs: Readonly<Record<string, string>>;
}

/**
 * The order mix: mostly plain orders, and each special path in turn. Customers' names steer the fake
 * gateway (`decline`, `flaky`, `late`); `sold-out` has no stock, `limited-print` only five.
 */
export function orderFor(index: number): { customerId: string; lines: { sku: string; quantity: number }[] } {
  const n = String(index).padStart(4, '0');
  switch (index % 10) {
    case 3:
      return { customerId: `c${n}`, lines: [{ sku: 'sold-out', quantity: 1 }] };
    case 4:
      return { customerId: `c${n}-decline`, lines: [{ sku: 'gadget', quantity: 1 }] };
    case 5:
      return { customerId: `c${n}-flaky`, lines: [{ sku: 'gizmo', quantity: 2 }] };
    case 6:
      return { customerId: `c${n}-late`, lines: [{ sku: 'widget', quantity: 1 }] };
    case 7:
      return { customerId: `c${n}`, lines: [{ sku: 'limited-print', quantity: 1 }] };
    default:
      return {
        customerId: `c${n}`,
        lines: [
          { sku: 'widget', quantity: 1 + (index % 3) },
          { sku: 'gadget', quantity: 1 },
        ],
      };
  }
}

/**
 * `npm run demo -- --broker X`: a schema registry in this process; the inventory service, two payment
 * instances (one database: competing consumers) and the order service as child processes on broker X,
 * under names of their own; `orders` orders through the HTTP API and `poison` poison commands; then waits
 * until the run is consistent (or the deadline passes), stops the services with SIGTERM, and returns
 * what they hold with the violations of the invariants.
 */
export async function runBrokerDemo(options: BrokerDemoOptions): Promise<BrokerDemoResult> {
  const started = Date.now();
  const step = options.onStep ?? (() => undefined);
  const dir = await mkdtemp(join(tmpdir(), `omnibus-demo-${options.broker}-`));
  const prefix = `demo-${randomBytes(3).toString('hex')}`;
  const registry = await startLocalRegistry();
  const files = {
    orders: join(dir, 'order-service.db'),
    inventory: join(dir, 'inventory-service.db'),
    payments: join(dir, 'payment-service.db'),
  };
  const names = {
    OMNIBUS_TRANSPORT: options.broker,
    OMNIBUS_NAME_PREFIX: prefix,
    OMNIBUS_PUBSUB_PROJECT: prefix,
  };
  const env = (database: string): Record<string, string> => ({
    ...names,
    OMNIBUS_SCHEMA_REGISTRY_URL: registry.url,
    OMNIBUS_SQLITE_PATH: database,
    OMNIBUS_PAYMENT_TIMEOUT_MS: String(options.paymentTimeoutMs ?? 4_000),
    OMNIBUS_LATE_PAYMENT_GRACE_MS: '600000',
    OMNIBUS_GATEWAY_LATE_MS: String(options.lateMs ?? 6_000),
    PORT: '0',
  });
  const processes = new Map<string, ServiceProcess>();
  const start = async (name: string, service: SampleService, database: string): Promise<ServiceProcess> => {
    const running = await ServiceProcess.start(name, service, env(database));
    processes.set(name, running);
    return running;
  };
  // The demo's own bus: sends the poison commands and reads the dead letters, on the run's names.
  const transport = createTransport(readSampleConfig('demo', { ...process.env, ...names }));
  const bus = new Bus({ transport, serviceName: 'demo', serializers: [createAvro(registry.url)] });
  let watch: DeadLetterWatch | undefined;
  let reader: SampleReader | undefined;
  try {
    await start('inventory', 'inventory-service', files.inventory);
    await start('payment-1', 'payment-service', files.payments);
    await start('payment-2', 'payment-service', files.payments);
    const api = (await start('orders', 'order-service', files.orders)).ready!.url!;
    step(
      `services up on ${options.broker} (names prefixed ${prefix}): inventory, 2 × payment, orders at ${api}`,
    );
    await bus.start();
    watch = await DeadLetterWatch.start(transport, (dead) =>
      step(`dead letter ${dead.type}: ${dead.reason}`),
    );
    reader = new SampleReader(files);

    const poisonIds: string[] = [];
    const poisonCount = options.poison ?? 1;
    const placedAt = new Map<string, number>();
    for (let index = 0; index < options.orders;) {
      const batch = Array.from({ length: Math.min(10, options.orders - index) }, (_, k) => index + k);
      for (const orderId of await Promise.all(batch.map((i) => placeOrder(api, orderFor(i))))) {
        placedAt.set(orderId, Date.now());
      }
      index += batch.length;
      options.onProgress?.({ placed: index, final: countFinal(reader), total: options.orders });
      if (poisonIds.length < poisonCount && index >= options.orders / 2) {
        const id = randomUUID();
        poisonIds.push(id);
        await bus.send(
          ProcessPayment,
          {
            paymentId: id,
            orderId: id,
            customerId: 'mallory',
            amount: '-5.00',
            currency: 'EUR',
            requestedAt: new Date(),
          },
          { id },
        );
        step('sent a poison ProcessPayment (amount -5.00)');
      }
      if (
        options.killPaymentAfter !== undefined &&
        index >= options.killPaymentAfter &&
        !processes.has('killed')
      ) {
        const victim = processes.get('payment-1')!;
        await victim.kill();
        processes.set('killed', victim);
        step(`SIGKILLed payment-1 (pid ${String(victim.pid)}); payment-2 goes on alone`);
        const again = await start('payment-1', 'payment-service', files.payments);
        step(`payment-1 started again (pid ${String(again.pid)})`);
      }
      if (
        options.restartBrokerAfter !== undefined &&
        index >= options.restartBrokerAfter &&
        !processes.has('restarted')
      ) {
        processes.set('restarted', processes.get('inventory')!);
        step(`restarting ${options.broker} (scripts/brokers restart ${LAB_NAME[options.broker]})`);
        await restartBroker(options.broker);
        step(`${options.broker} is back`);
      }
    }
    if (poisonIds.length < poisonCount)
      throw new Error('fewer orders than needed to send the poison commands');

    const outcome = (): SampleOutcome => ({
      orders: reader!.orders(),
      ledger: reader!.ledger(),
      stock: reader!.stock(),
      initialStock: INITIAL_STOCK,
      notifications: reader!.notifications(),
      deadLetters: [...watch!.seen],
      poisonIds,
    });
    const deadline = Date.now() + (options.settleTimeoutMs ?? 60_000);
    let last = outcome();
    let problems = violations(last);
    while (problems.length > 0 || reader.unansweredLatePayments() > 0) {
      if (Date.now() > deadline) break;
      options.onProgress?.({ placed: options.orders, final: countFinal(reader), total: options.orders });
      await new Promise((resolve) => setTimeout(resolve, 250));
      last = outcome();
      problems = violations(last);
    }
    options.onProgress?.({ placed: options.orders, final: countFinal(reader), total: options.orders });
    const times = last.orders
      .filter((order) => order.completedAt !== null)
      .map((order) => Date.parse(order.completedAt!) - Date.parse(order.placedAt))
      .sort((a, b) => a - b);
    return {
      ...last,
      violations: problems,
      outcomes: outcomesOf(last),
      p50Ms: percentile(times, 0.5),
      p99Ms: percentile(times, 0.99),
      elapsedMs: Date.now() - started,
      logs: Object.fromEntries([...processes].map(([name, p]) => [name, p.stderrTail()])),
    };
  } finally {
    await watch?.stop().catch(() => undefined);
    processes.delete('killed');
    processes.delete('restarted');
    const codes = await Promise.all(
      [...processes.values()].map(async (p) => [p.name, await p.stop()] as const),
    );
    for (const [name, code] of codes) if (code !== 0) step(`${name} exited with ${String(code)}`);
    await bus.stop().catch(() => undefined);
    reader?.close();
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function placeOrder(api: string, order: ReturnType<typeof orderFor>): Promise<string> {
  const response = await fetch(`${api}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(order),
  });
  if (response.status !== 202)
    throw new Error(`POST /orders answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { orderId: string }).orderId;
}

const brokersScript = fileURLToPath(new URL('../../../../scripts/brokers', import.meta.url));

/** `scripts/brokers restart NAME`: the lab's broker stops and starts; the services reconnect by themselves. */
export async function restartBroker(broker: BrokerName): Promise<void> {
  await promisify(execFile)(brokersScript, ['restart', LAB_NAME[broker]], { timeout: 240_000 });
}

const FINAL = new Set(['confirmed', 'rejected', 'cancelled']);

function countFinal(reader: SampleReader): number {
  return reader.orders().filter((order) => FINAL.has(order.status)).length;
}

/** Orders per outcome; a cancelled order that was charged (the gateway answered late) counts as refunded. */
export function outcomesOf(outcome: SampleOutcome): Record<string, number> {
  const refunded = new Set(outcome.ledger.filter((e) => e.kind === 'refund').map((e) => e.orderId));
  const counts: Record<string, number> = {};
  for (const order of outcome.orders) {
    const name =
      order.status === 'cancelled'
        ? refunded.has(order.orderId)
          ? 'cancelled, late charge refunded'
          : 'cancelled'
        : order.status;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
