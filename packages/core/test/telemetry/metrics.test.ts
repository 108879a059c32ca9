import 'reflect-metadata';
import { expect } from 'chai';
import type { OutboxMessage } from '../../src/index.js';
import {
  Bus,
  Handle,
  MemoryPersistence,
  MemoryTransport,
  OutboxRelay,
  Subscriber,
  constant,
  silentLogger,
} from '../../src/index.js';
import { uniqueName, waitFor } from '../../src/testing/index.js';
import { contracts, type ProcessPaymentV1 } from '../fixtures.js';
import { metering, recorded, total } from './metrics-fixture.js';

describe('telemetry: metrics', function () {
  it('counts sent and consumed messages, retries and dead letters, and records the durations', async function () {
    const { provider, collect } = metering();
    const c = contracts(uniqueName());
    const transport = new MemoryTransport();
    const failedOnce = new Set<string>();
    let handled = 0;
    @Subscriber({ group: 'payments' })
    class Payments {
      @Handle(c.ProcessPayment)
      async pay(command: ProcessPaymentV1): Promise<void> {
        // 13 succeed at once, 5 fail once and then succeed, 2 always fail (3 attempts, then dead letter).
        if (command.amount >= 18) throw new Error('declined');
        if (command.amount >= 13 && !failedOnce.has(command.orderId)) {
          failedOnce.add(command.orderId);
          throw new Error('flaky');
        }
        handled++;
      }
    }
    const bus = new Bus({
      transport,
      serviceName: 'test',
      handlers: [Payments],
      logger: silentLogger,
      retry: { attempts: 3, backoff: constant(0) },
      telemetry: { meterProvider: provider },
    });
    await bus.start();
    try {
      for (let index = 0; index < 20; index++) {
        await bus.send(c.ProcessPayment, { orderId: `o-${index}`, amount: index });
      }
      await waitFor(() => bus.stats.handled === 18 && bus.stats.deadLettered === 2);
      // Counted when a handling ends, just after its settle.
      await waitFor(async () => recorded(await collect(), 'messaging.process.duration') === 29);
      const metrics = await collect();
      const queue = { 'messaging.destination.name': c.ProcessPayment.queue };
      expect(handled).to.equal(18);
      expect(total(metrics, 'messaging.client.sent.messages', queue)).to.equal(20);
      expect(recorded(metrics, 'messaging.client.operation.duration', queue)).to.equal(20);
      // 13 + 5 × 2 + 2 × 3 deliveries
      expect(total(metrics, 'messaging.client.consumed.messages', queue)).to.equal(29);
      expect(total(metrics, 'omnibus.messages.retried', queue)).to.equal(9);
      expect(total(metrics, 'omnibus.messages.dead_lettered', queue)).to.equal(2);
      expect(total(metrics, 'omnibus.handlings.in_flight', queue)).to.equal(0);
      expect(recorded(metrics, 'messaging.process.duration', { ...queue, 'error.type': undefined })).to.equal(
        18,
      );
      expect(metrics.get('messaging.client.sent.messages')!.dataPoints[0]!.attributes).to.include({
        'messaging.system': 'omnibus_memory',
        'messaging.operation.name': 'send',
      });
      expect(metrics.get('messaging.client.consumed.messages')!.dataPoints[0]!.attributes).to.include({
        'messaging.consumer.group.name': 'payments',
      });
    } finally {
      await bus.stop();
    }
  });

  it('shows the outbox backlog and the age of its oldest row, falling to zero once the relay catches up', async function () {
    const { provider, collect } = metering();
    const queue = uniqueName('outbox');
    // Room for 5 only: the relay's publish waits until a consumer makes room (backpressure).
    const transport = new MemoryTransport({ maxQueueDepth: 5 });
    await transport.provision({ queues: [{ name: queue }] });
    const persistence = new MemoryPersistence();
    const rows: OutboxMessage[] = Array.from({ length: 20 }, (_, index) => ({
      destination: { kind: 'queue', queue },
      envelope: { id: `m-${index}`, type: 't.Row', headers: {}, body: new Uint8Array(1) },
    }));
    await persistence.unitOfWork.transaction((tx) => persistence.outbox.add(tx, rows));
    const relay = new OutboxRelay({
      store: persistence.outbox,
      transport,
      logger: silentLogger,
      telemetry: { meterProvider: provider },
    });
    await relay.start();
    try {
      const before = await collect();
      expect(total(before, 'omnibus.outbox.backlog')).to.equal(20);
      expect(total(before, 'omnibus.outbox.oldest_age')).to.be.at.least(0);
      expect(total(before, 'omnibus.outbox.failed')).to.equal(0);
      let consumed = 0;
      const consumer = await transport.consume(
        { kind: 'queue', queue },
        async (delivery) => {
          consumed++;
          await delivery.ack();
        },
        { concurrency: 1 },
      );
      await waitFor(() => relay.metrics.published === 20);
      const after = await collect();
      expect(total(after, 'omnibus.outbox.backlog')).to.equal(0);
      expect(total(after, 'omnibus.outbox.oldest_age')).to.equal(0);
      expect(
        total(after, 'messaging.client.sent.messages', { 'messaging.destination.name': queue }),
      ).to.equal(20);
      await waitFor(() => consumed === 20);
      await consumer.close();
    } finally {
      await relay.stop();
      await transport.close();
    }
  });

  it("shows each consumer's circuit breaker state: 0 closed, 2 open", async function () {
    const { provider, collect } = metering();
    const c = contracts(uniqueName());
    @Subscriber({ group: 'payments' })
    class Failing {
      @Handle(c.ProcessPayment)
      async pay(): Promise<void> {
        throw new Error('down');
      }
    }
    const bus = new Bus({
      transport: new MemoryTransport(),
      serviceName: 'test',
      handlers: [Failing],
      logger: silentLogger,
      retry: { attempts: 1, backoff: constant(0) },
      circuitBreaker: { failureThreshold: 2, cooldownMs: 60_000 },
      telemetry: { meterProvider: provider },
    });
    await bus.start();
    try {
      const where = { 'messaging.destination.name': c.ProcessPayment.queue };
      expect(total(await collect(), 'omnibus.circuit_breaker.state', where)).to.equal(0);
      await bus.send(c.ProcessPayment, { orderId: 'x', amount: 1 });
      await bus.send(c.ProcessPayment, { orderId: 'y', amount: 1 });
      await waitFor(async () => total(await collect(), 'omnibus.circuit_breaker.state', where) === 2);
    } finally {
      await bus.stop();
    }
  });
});
