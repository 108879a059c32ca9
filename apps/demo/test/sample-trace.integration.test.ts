import 'reflect-metadata';
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { MemoryTransport, silentLogger } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { InventoryService } from '@omnibus/inventory-service';
import { OrderService } from '@omnibus/order-service';
import { PaymentService } from '@omnibus/payment-service';
import type { TransportName } from '@omnibus/sample-kit';
import {
  OrderPlaced,
  ProcessPayment,
  ReserveStock,
  createAvro,
  createTransport,
  readSampleConfig,
  startLocalRegistry,
} from '@omnibus/sample-kit';

const BROKERS: readonly TransportName[] = ['memory', 'rabbitmq', 'kafka', 'aws', 'pubsub', 'nats', 'amqp10'];
/** `messaging.system` per transport, as the conventions name the systems. */
const SYSTEM: Readonly<Record<TransportName, string>> = {
  memory: 'omnibus_memory',
  rabbitmq: 'rabbitmq',
  kafka: 'kafka',
  aws: 'aws_sqs',
  pubsub: 'gcp_pubsub',
  nats: 'nats',
  amqp10: 'activemq',
};
const SERVICES = ['order-service', 'inventory-service', 'payment-service'] as const;
type ServiceName = (typeof SERVICES)[number];

function brokerEnv(broker: TransportName): NodeJS.ProcessEnv {
  return { ...process.env, OMNIBUS_TRANSPORT: broker, OMNIBUS_PUBSUB_PROJECT: 'omnibus-probe' };
}

async function probe(broker: TransportName): Promise<void> {
  if (broker === 'memory') return;
  const transport = createTransport(readSampleConfig('probe', brokerEnv(broker)));
  try {
    await transport.connect(AbortSignal.timeout(10_000));
  } finally {
    await transport.close();
  }
}

for (const broker of BROKERS) {
  describeIntegration(
    `the sample's trace on ${broker}`,
    () => probe(broker),
    function () {
      it('one order through order → inventory → payment is one trace, each hop a child of the message that caused it', async function () {
        this.timeout(120_000);
        const dir = await mkdtemp(join(tmpdir(), 'omnibus-trace-'));
        const registry = await startLocalRegistry();
        const prefix = uniqueName('trace')
          .toLowerCase()
          .replace(/[^a-z0-9-]/g, '-');
        // A tracer provider per service, so each span says which service made it.
        const exporters = new Map<ServiceName, InMemorySpanExporter>();
        // In memory the three services share one embedded broker, as `npm start` runs them.
        const memory = broker === 'memory' ? new MemoryTransport() : undefined;
        const shared = (service: ServiceName) => {
          const exporter = new InMemorySpanExporter();
          exporters.set(service, exporter);
          const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
          return {
            config: readSampleConfig(service, {
              ...brokerEnv(broker),
              OMNIBUS_NAME_PREFIX: prefix,
              OMNIBUS_SQLITE_PATH: join(dir, `${service}.db`),
              OMNIBUS_DATABASE_URL: undefined,
            }),
            avro: createAvro(registry.url),
            logger: silentLogger,
            telemetry: { tracerProvider: provider },
            ...(memory === undefined ? {} : { transport: memory, closeTransport: false }),
          };
        };
        const orders = new OrderService({
          ...shared('order-service'),
          fulfilment: { paymentTimeoutMs: 60_000, latePaymentGraceMs: 60_000 },
        });
        const inventory = new InventoryService(shared('inventory-service'));
        const payments = new PaymentService({ ...shared('payment-service'), lateMs: 60_000 });
        try {
          await inventory.start();
          await payments.start();
          await orders.start();
          const orderId = await orders.placeOrder('alice', [{ sku: 'widget', quantity: 1 }]);
          await waitFor(async () => (await orders.orders.get(orderId))?.status === 'confirmed', {
            timeoutMs: 90_000,
            message: `order ${orderId} confirmed`,
          });
          const of = (service: ServiceName): ReadableSpan[] => exporters.get(service)!.getFinishedSpans();
          const processed = (service: ServiceName, type: string) =>
            of(service).filter(
              (span) => span.kind === SpanKind.CONSUMER && span.attributes['cloudevents.event_type'] === type,
            );
          // The spans of the payment's handling end a moment after the order is confirmed elsewhere.
          await waitFor(() => processed('payment-service', ProcessPayment.type).length > 0, {
            message: 'the payment handling span',
          });

          const placed = of('order-service').find(
            (span) =>
              span.name.startsWith('create ') &&
              span.attributes['cloudevents.event_type'] === OrderPlaced.type,
          )!;
          expect(placed, 'the create span of OrderPlaced').to.not.equal(undefined);
          expect(placed.parentSpanContext, 'the order is where the trace begins').to.equal(undefined);
          const traceId = placed.spanContext().traceId;
          const conversation = placed.attributes['messaging.message.conversation_id'];
          const all = SERVICES.flatMap((service) => of(service).map((span) => ({ service, span })));
          const byId = new Map(all.map(({ span }) => [span.spanContext().spanId, span]));

          // Every span about this order is in the one trace; the relays' send spans are their own, linked.
          const about = all.filter(
            ({ span }) => span.attributes['messaging.message.conversation_id'] === conversation,
          );
          expect(about.length).to.be.greaterThan(6);
          for (const { service, span } of about) {
            expect(span.spanContext().traceId, `${service}: ${span.name}`).to.equal(traceId);
          }
          // Each consumer span's parent is the create span of the message it handles, made by the sender.
          for (const { service, span } of all.filter(({ span }) => span.kind === SpanKind.CONSUMER)) {
            const parent = byId.get(span.parentSpanContext?.spanId ?? '');
            expect(parent?.name, `${service}: ${span.name}`).to.equal(
              `create ${String(span.attributes['messaging.destination.name'])}`,
            );
            expect(parent!.attributes['messaging.message.id']).to.equal(
              span.attributes['messaging.message.id'],
            );
            expect(span.attributes).to.include({
              'messaging.system': SYSTEM[broker],
              'messaging.operation.type': 'process',
              'omnibus.outcome': 'ack',
            });
            expect(span.attributes['messaging.consumer.group.name']).to.be.a('string');
          }
          // The hops: order (saga) → inventory → order (saga) → payment, all in the trace.
          const [reserve] = processed('inventory-service', ReserveStock.type);
          const [pay] = processed('payment-service', ProcessPayment.type);
          expect(reserve!.spanContext().traceId).to.equal(traceId);
          expect(reserve!.attributes['messaging.destination.name']).to.equal(ReserveStock.queue);
          expect(pay!.spanContext().traceId).to.equal(traceId);
          const sagaSteps = of('order-service').filter((span) => span.name === 'saga order-fulfilment');
          expect(sagaSteps.map((span) => span.attributes['omnibus.saga.version'])).to.include.members([
            1, 2, 3,
          ]);
          // Each relay's send links to the create span of what it published.
          const sends = all.filter(({ span }) => span.name.startsWith('send '));
          expect(sends.length).to.be.greaterThan(0);
          for (const { span } of sends) {
            for (const link of span.links) expect(byId.has(link.context.spanId)).to.equal(true);
          }
        } finally {
          await orders.stop();
          await payments.stop();
          await inventory.stop();
          await memory?.close();
          await registry.close();
          await rm(dir, { recursive: true, force: true });
        }
      });
    },
  );
}
