import 'reflect-metadata';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { expect } from 'chai';
import type { Envelope, MessageContext } from '../../src/index.js';
import {
  Bus,
  Handle,
  Header,
  MemoryPersistence,
  MemoryTransport,
  Subscriber,
  constant,
  messageLogFields,
  silentLogger,
} from '../../src/index.js';
import { uniqueName, waitFor } from '../../src/testing/index.js';
import { contracts, type OrderPlacedV1, type ProcessPaymentV1 } from '../fixtures.js';
import { named, parentOf, tracing } from './tracing-fixture.js';

describe('telemetry: traces', function () {
  let transport: MemoryTransport;
  let c: ReturnType<typeof contracts>;
  const buses: Bus[] = [];

  beforeEach(function () {
    transport = new MemoryTransport();
    c = contracts(uniqueName());
  });
  afterEach(async function () {
    await Promise.all(buses.splice(0).map((bus) => bus.stop()));
  });

  function bus(options: Partial<ConstructorParameters<typeof Bus>[0]>): Bus {
    const created = new Bus({
      transport,
      serviceName: 'test',
      closeTransport: false,
      logger: silentLogger,
      retry: { attempts: 3, backoff: constant(0) },
      ...options,
    });
    buses.push(created);
    return created;
  }

  it('links publish → process → create → send → process in one trace, with the messaging attributes', async function () {
    const { provider, spans } = tracing();
    const paid: string[] = [];
    @Subscriber({ group: 'billing' })
    class Billing {
      @Handle(c.OrderPlaced)
      async placed(event: OrderPlacedV1, ctx: MessageContext): Promise<void> {
        await ctx.send(c.ProcessPayment, { orderId: event.orderId, amount: event.total });
      }
      @Handle(c.ProcessPayment)
      async pay(command: ProcessPaymentV1): Promise<void> {
        paid.push(command.orderId);
      }
    }
    const b = bus({ handlers: [Billing], telemetry: { tracerProvider: provider } });
    await b.start();
    await b.publish(c.OrderPlaced, { orderId: 'o-1', total: 5 }, { id: 'first-message' });
    await waitFor(() => named(spans(), `process ${c.ProcessPayment.queue}`).length === 1);

    const [publish] = named(spans(), `send ${c.OrderPlaced.channel}`);
    const [placed] = named(spans(), `process ${c.OrderPlaced.channel}`);
    const [create] = named(spans(), `create ${c.ProcessPayment.queue}`);
    const [send] = named(spans(), `send ${c.ProcessPayment.queue}`);
    const [pay] = named(spans(), `process ${c.ProcessPayment.queue}`);
    for (const span of [placed, create, send, pay]) {
      expect(span!.spanContext().traceId).to.equal(publish!.spanContext().traceId);
    }
    expect(publish!.kind).to.equal(SpanKind.PRODUCER);
    expect(parentOf(publish!)).to.equal(undefined);
    expect(placed!.kind).to.equal(SpanKind.CONSUMER);
    expect(parentOf(placed!)).to.equal(publish!.spanContext().spanId);
    expect(create!.kind).to.equal(SpanKind.PRODUCER);
    expect(parentOf(create!)).to.equal(placed!.spanContext().spanId);
    expect(send!.kind).to.equal(SpanKind.CLIENT);
    expect(parentOf(send!)).to.equal(placed!.spanContext().spanId);
    expect(send!.links.map((link) => link.context.spanId)).to.deep.equal([create!.spanContext().spanId]);
    expect(parentOf(pay!)).to.equal(create!.spanContext().spanId);

    expect(publish!.attributes).to.include({
      'messaging.system': 'omnibus_memory',
      'messaging.destination.name': c.OrderPlaced.channel,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.message.id': 'first-message',
      'messaging.message.conversation_id': 'first-message',
      'cloudevents.event_type': 'orders.OrderPlaced',
    });
    expect(placed!.attributes).to.include({
      'messaging.system': 'omnibus_memory',
      'messaging.destination.name': c.OrderPlaced.channel,
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.consumer.group.name': 'billing',
      'messaging.message.id': 'first-message',
      'messaging.message.conversation_id': 'first-message',
      'omnibus.delivery.attempt': 1,
      'omnibus.outcome': 'ack',
    });
    // The command carries the event's correlation id as its conversation.
    expect(pay!.attributes['messaging.message.conversation_id']).to.equal('first-message');
    expect(pay!.attributes['messaging.destination.name']).to.equal(c.ProcessPayment.queue);
    expect(paid).to.deep.equal(['o-1']);
  });

  it('shows each attempt of a message retried and then dead-lettered, with the error', async function () {
    const { provider, spans } = tracing();
    @Subscriber({ group: 'payments' })
    class Failing {
      @Handle(c.ProcessPayment)
      async pay(): Promise<void> {
        throw new Error('card declined');
      }
    }
    const b = bus({ handlers: [Failing], telemetry: { tracerProvider: provider } });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o-2', amount: 1 });
    const name = `process ${c.ProcessPayment.queue}`;
    await waitFor(() => named(spans(), name).length === 3);

    const [send] = named(spans(), `send ${c.ProcessPayment.queue}`);
    const attempts = named(spans(), name);
    expect(attempts.map((span) => span.attributes['omnibus.delivery.attempt'])).to.deep.equal([1, 2, 3]);
    expect(attempts.map((span) => span.attributes['omnibus.outcome'])).to.deep.equal([
      'retry',
      'retry',
      'dead_letter',
    ]);
    for (const span of attempts) {
      expect(parentOf(span)).to.equal(send!.spanContext().spanId);
      expect(span.status.code).to.equal(SpanStatusCode.ERROR);
      expect(span.status.message).to.equal('card declined');
      expect(span.attributes['error.type']).to.be.a('string');
      const exception = span.events.find((event) => event.name === 'exception');
      expect(exception?.attributes?.['exception.message']).to.equal('card declined');
    }
    expect(attempts[2]!.attributes['omnibus.dead_letter.attempts']).to.equal(3);
  });

  it("makes a foreign producer's hand-written W3C traceparent the parent, and ignores a malformed one", async function () {
    const { provider, spans } = tracing();
    const handled: string[] = [];
    @Subscriber({ group: 'payments' })
    class Payments {
      @Handle(c.ProcessPayment)
      async pay(command: ProcessPaymentV1): Promise<void> {
        handled.push(command.orderId);
      }
    }
    const b = bus({ handlers: [Payments], telemetry: { tracerProvider: provider } });
    await b.start();
    // The W3C Trace Context example value: version 00, trace id, parent id, sampled.
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentId = '00f067aa0ba902b7';
    const foreign = (id: string, traceparent: string): Envelope => ({
      id,
      type: 'payments.ProcessPayment',
      headers: {
        [Header.contentType]: 'application/json',
        [Header.traceParent]: traceparent,
        [Header.traceState]: 'vendor=opaque',
      },
      body: Buffer.from(JSON.stringify({ orderId: id, amount: 1 })),
    });
    await transport.publish({ kind: 'queue', queue: c.ProcessPayment.queue }, [
      foreign('good', `00-${traceId}-${parentId}-01`),
      foreign('bad', `00-${traceId}-0000000000000000-01`),
    ]);
    // A span ends once its delivery is settled, after the handler ran.
    await waitFor(() => named(spans(), `process ${c.ProcessPayment.queue}`).length === 2);
    expect(handled).to.have.members(['good', 'bad']);
    const processed = named(spans(), `process ${c.ProcessPayment.queue}`);
    const good = processed.find((span) => span.attributes['messaging.message.id'] === 'good')!;
    const bad = processed.find((span) => span.attributes['messaging.message.id'] === 'bad')!;
    expect(good.spanContext().traceId).to.equal(traceId);
    expect(parentOf(good)).to.equal(parentId);
    expect(good.parentSpanContext?.isRemote).to.equal(true);
    expect(good.spanContext().traceState?.get('vendor')).to.equal('opaque');
    expect(bad.spanContext().traceId).to.not.equal(traceId);
    expect(parentOf(bad)).to.equal(undefined);
  });

  it("links the outbox relay's publish to the trace of the transaction that wrote the row", async function () {
    const { provider, spans } = tracing();
    const handled: string[] = [];
    @Subscriber({ group: 'payments' })
    class Payments {
      @Handle(c.ProcessPayment)
      async pay(command: ProcessPaymentV1): Promise<void> {
        handled.push(command.orderId);
      }
    }
    const b = bus({
      handlers: [Payments],
      persistence: new MemoryPersistence(),
      telemetry: { tracerProvider: provider },
    });
    await b.start();
    const tracer = provider.getTracer('test');
    await tracer.startActiveSpan('POST /orders', async (request) => {
      await b.transaction(async ({ send }) => {
        await send(c.ProcessPayment, { orderId: 'o-3', amount: 1 });
      });
      request.end();
    });
    await waitFor(() => named(spans(), `process ${c.ProcessPayment.queue}`).length === 1);
    expect(handled).to.deep.equal(['o-3']);
    const [request] = named(spans(), 'POST /orders');
    const [create] = named(spans(), `create ${c.ProcessPayment.queue}`);
    const [relay] = named(spans(), `send ${c.ProcessPayment.queue}`);
    const [pay] = named(spans(), `process ${c.ProcessPayment.queue}`);
    expect(parentOf(create!)).to.equal(request!.spanContext().spanId);
    expect(relay!.spanContext().traceId).to.not.equal(request!.spanContext().traceId);
    expect(relay!.links.map((link) => link.context.spanId)).to.deep.equal([create!.spanContext().spanId]);
    expect(relay!.attributes['messaging.destination.name']).to.equal(c.ProcessPayment.queue);
    expect(pay!.spanContext().traceId).to.equal(request!.spanContext().traceId);
    expect(parentOf(pay!)).to.equal(create!.spanContext().spanId);
  });

  it('writes no traceparent when no SDK records spans, and passes a carried one on', async function () {
    const seen: Envelope[] = [];
    @Subscriber({ group: 'billing' })
    class Billing {
      @Handle(c.OrderPlaced)
      async placed(event: OrderPlacedV1, ctx: MessageContext): Promise<void> {
        await ctx.send(c.ProcessPayment, { orderId: event.orderId, amount: event.total });
      }
      @Handle(c.ProcessPayment)
      async pay(_command: ProcessPaymentV1, ctx: MessageContext): Promise<void> {
        seen.push(ctx.envelope);
      }
    }
    expect(trace.getTracerProvider().getTracer('x').startSpan('probe').isRecording()).to.equal(false);
    const b = bus({ handlers: [Billing] });
    await b.start();
    const carried = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await b.publish(c.OrderPlaced, { orderId: 'o-4', total: 1 });
    await b.publish(c.OrderPlaced, { orderId: 'o-5', total: 1 }, { headers: { traceparent: carried } });
    await waitFor(() => seen.length === 2);
    const byOrder = (orderId: string) =>
      seen.find(
        (envelope) =>
          (JSON.parse(Buffer.from(envelope.body).toString()) as ProcessPaymentV1).orderId === orderId,
      )!;
    expect(byOrder('o-4').headers[Header.traceParent]).to.equal(undefined);
    expect(byOrder('o-5').headers[Header.traceParent]).to.equal(carried);
  });

  it('puts the trace id, span id and correlation id in the log entries about a message', async function () {
    const { provider, spans } = tracing();
    const entries: { message: string; fields: Record<string, unknown> }[] = [];
    const capture = (fields: Record<string, unknown>, message: string): void =>
      void entries.push({ message, fields });
    const logger = { debug: capture, info: capture, warn: capture, error: capture };
    @Subscriber({ group: 'payments' })
    class Flaky {
      @Handle(c.ProcessPayment)
      async pay(_command: ProcessPaymentV1, ctx: MessageContext): Promise<void> {
        logger.info(messageLogFields(ctx), 'paying');
        if (ctx.attempt === 1) throw new Error('flaky');
      }
    }
    const b = bus({ handlers: [Flaky], logger, telemetry: { tracerProvider: provider } });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o-6', amount: 1 }, { id: 'logged' });
    await waitFor(() => named(spans(), `process ${c.ProcessPayment.queue}`).length === 2);
    const attempt = (n: number) =>
      named(spans(), `process ${c.ProcessPayment.queue}`).find(
        (span) => span.attributes['omnibus.delivery.attempt'] === n,
      );
    const [first, second] = [attempt(1), attempt(2)];
    const retry = entries.find((entry) => entry.message === 'handler failed: retrying')!;
    expect(retry.fields).to.include({
      messageId: 'logged',
      correlationId: 'logged',
      traceId: first!.spanContext().traceId,
      spanId: first!.spanContext().spanId,
    });
    const paying = entries.filter((entry) => entry.message === 'paying');
    expect(paying.map((entry) => entry.fields.spanId)).to.deep.equal([
      first!.spanContext().spanId,
      second!.spanContext().spanId,
    ]);
  });
});
