import 'reflect-metadata';
import { Container } from 'inversify';
import type { Transport } from '@omnibus/core';
import { Bus, MemoryTransport, omnibusModule, readFailure } from '@omnibus/core';
import { ProcessPayment } from './contracts.js';
import type { OrderStatus } from './orders.js';
import { OrderHandlers, OrderRepository, OrderService } from './orders.js';
import { DemoGateway, PaymentGateway, PaymentHandlers } from './payments.js';
import { Timeline } from './timeline.js';

export interface DemoResult {
  readonly statuses: ReadonlyMap<string, OrderStatus>;
  readonly deadLetters: readonly { id: string; reason: string; code: string; attempts: number }[];
  readonly timeline: Timeline;
  readonly stats: Bus['stats'];
}

/**
 * The first runnable example: the order service places four orders; the payment service charges them
 * from its queue and publishes the outcome; one charge fails transiently and succeeds on retry; one
 * order is declined; one command is poison (a negative amount) and ends in the dead-letter queue.
 */
export async function runDemo(transport: Transport = new MemoryTransport()): Promise<DemoResult> {
  const timeline = new Timeline();
  const container = new Container();
  container.bind(OrderRepository).toSelf().inSingletonScope();
  container.bind(OrderService).toSelf();
  container.bind<PaymentGateway>(PaymentGateway).toConstantValue(new DemoGateway());
  container.load(
    omnibusModule({
      transport,
      serviceName: 'demo',
      handlers: [OrderHandlers, PaymentHandlers],
      middleware: [timeline.middleware],
    }),
  );
  const bus = container.get(Bus);
  const orders = container.get(OrderService);
  const repository = container.get(OrderRepository);

  await bus.start();
  timeline.record('demo', 'bus started: in-memory transport');
  await orders.placeOrder('order-1', 'alice', 4_200);
  await orders.placeOrder('order-2-flaky', 'bob', 1_999);
  await orders.placeOrder('order-3', 'carol', 250_000);
  // A broken upstream sends a command no handler can ever process.
  await bus.send(ProcessPayment, { orderId: 'order-4-poison', amountCents: -5 });
  timeline.record('demo', 'placed 3 orders and sent 1 poison command');

  const deadLetters: DemoResult['deadLetters'][number][] = [];
  const dlq = await transport.consume(
    { kind: 'deadLetters', of: { kind: 'queue', queue: ProcessPayment.queue } },
    async (delivery) => {
      const failure = readFailure(delivery.envelope)!;
      deadLetters.push({
        id: delivery.envelope.id,
        reason: failure.message,
        code: failure.code,
        attempts: failure.attempts,
      });
      timeline.record('operator', `dead letter …${delivery.envelope.id.slice(-6)}: ${failure.message}`);
      await delivery.ack();
    },
    { concurrency: 1 },
  );
  const settled = () =>
    [...repository.statuses.values()].every((status) => status !== 'placed') && deadLetters.length === 1;
  const deadline = Date.now() + 10_000;
  while (!settled()) {
    if (Date.now() > deadline) throw new Error('the demo did not settle within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await dlq.close();
  await bus.stop();
  timeline.record('demo', 'bus stopped gracefully');
  return { statuses: repository.statuses, deadLetters, timeline, stats: { ...bus.stats } };
}
