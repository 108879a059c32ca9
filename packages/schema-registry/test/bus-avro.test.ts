import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { AvroSerializer, SchemaRegistryClient, TopicRecordNameStrategy, frame } from '@omnibus/avro';
import type { Envelope, MessageContext, Source } from '@omnibus/core';
import {
  Bus,
  Handle,
  Header,
  MemoryTransport,
  SchemaError,
  Subscriber,
  constant,
  defineCommand,
  defineEvent,
  readFailure,
  uuidv7,
} from '@omnibus/core';
import { uniqueName, waitFor } from '@omnibus/core/testing';
import type { OrderConfirmed, OrderPlaced, ProcessPayment } from '../../../schemas/types.js';
import type { RegistryFixture } from './registry-fixture.js';
import { startTestRegistry } from './registry-fixture.js';
import { sampleOrder } from './sample-order.js';

const schemasDir = fileURLToPath(new URL('../../../../schemas', import.meta.url));

describe('a Bus with Avro contracts, on the in-memory transport', () => {
  let registry: RegistryFixture;
  let transport: MemoryTransport;
  let bus: Bus | undefined;
  let channel: string;
  let queue: string;
  let group: string;

  beforeEach(async () => {
    registry = await startTestRegistry();
    transport = new MemoryTransport();
    channel = uniqueName('orders');
    queue = uniqueName('payments');
    group = uniqueName('billing');
  });
  afterEach(async () => {
    await bus?.stop();
    bus = undefined;
    await registry.close();
  });

  function contracts() {
    return {
      OrderPlaced: defineEvent<OrderPlaced>({
        type: 'orders.OrderPlaced',
        channel,
        key: (e) => e.orderId,
        schema: 'orders/OrderPlaced.avsc',
      }),
      OrderConfirmed: defineEvent<OrderConfirmed>({
        type: 'orders.OrderConfirmed',
        channel,
        key: (e) => e.orderId,
        schema: 'orders/OrderConfirmed.avsc',
      }),
      ProcessPayment: defineCommand<ProcessPayment>({
        type: 'payments.ProcessPayment',
        queue,
        key: (c) => c.orderId,
        schema: 'payments/ProcessPayment.avsc',
      }),
    };
  }

  function avro(): AvroSerializer {
    return new AvroSerializer({
      registry: new SchemaRegistryClient({ url: registry.url }),
      schemasDir,
      // Two event types share the channel: one subject per record type per topic.
      subjectNameStrategy: TopicRecordNameStrategy,
    });
  }

  async function deadLetters(
    of: Extract<Source, { kind: 'subscription' }>,
    count: number,
  ): Promise<Envelope[]> {
    const seen: Envelope[] = [];
    const consumer = await transport.consume(
      { kind: 'deadLetters', of },
      async (delivery) => {
        seen.push(delivery.envelope);
      },
      { concurrency: 10 },
    );
    await waitFor(() => seen.length >= count, { message: `${count} dead letters` });
    await consumer.close();
    return seen;
  }

  it('publishes and handles events and commands as Avro, typed by the generated types', async () => {
    const c = contracts();
    const placed: OrderPlaced[] = [];
    const confirmed: OrderConfirmed[] = [];
    const payments: ProcessPayment[] = [];
    const headers: Record<string, string>[] = [];

    @Subscriber({ group })
    class Billing {
      @Handle(c.OrderPlaced)
      async onPlaced(order: OrderPlaced, ctx: MessageContext) {
        placed.push(order);
        headers.push({ ...ctx.headers });
        await ctx.send(c.ProcessPayment, {
          paymentId: '0190f0c2-7a3b-7c1d-8e2f-00000000000a',
          orderId: order.orderId,
          customerId: order.customerId,
          amount: order.total,
          currency: order.currency,
          requestedAt: new Date('2025-03-01T10:00:01Z'),
        });
      }
      @Handle(c.OrderConfirmed)
      onConfirmed(event: OrderConfirmed) {
        confirmed.push(event);
      }
      @Handle(c.ProcessPayment)
      onPay(command: ProcessPayment) {
        payments.push(command);
      }
    }

    bus = new Bus({ transport, serviceName: 'orders-test', handlers: [Billing], serializers: [avro()] });
    await bus.start();
    const order = sampleOrder();
    await bus.publish(c.OrderPlaced, order);
    await bus.publish(c.OrderConfirmed, {
      orderId: order.orderId,
      paymentId: '0190f0c2-7a3b-7c1d-8e2f-00000000000a',
      reservationId: '0190f0c2-7a3b-7c1d-8e2f-00000000000b',
      confirmedAt: new Date('2025-03-01T10:00:02Z'),
    });
    await waitFor(() => placed.length === 1 && confirmed.length === 1 && payments.length === 1, {
      message: 'the event, the confirmation and the command',
    });
    expect(headers[0]).to.include({ [Header.contentType]: 'application/avro' });
    expect(placed[0]!.placedAt.toISOString()).to.equal(order.placedAt.toISOString());
    expect(placed[0]).to.deep.include({ total: '25.99', orderId: order.orderId, couponCode: null });
    expect(payments[0]).to.deep.include({ amount: '25.99', currency: 'EUR' });
    expect(payments[0]!.requestedAt).to.be.instanceOf(Date);
    expect(confirmed[0]!.confirmedAt.toISOString()).to.equal('2025-03-01T10:00:02.000Z');
    expect(bus.stats).to.include({ handled: 3, deadLettered: 0 });
    expect((await registry.call('GET', '/subjects')).body).to.deep.equal([
      `${channel}-orders.OrderConfirmed`,
      `${channel}-orders.OrderPlaced`,
      `${queue}-payments.ProcessPayment`,
    ]);
  });

  it('refuses to publish a payload that does not match the schema', async () => {
    const c = contracts();
    bus = new Bus({ transport, serviceName: 'orders-test', serializers: [avro()] });
    await bus.start();
    const error = await bus.publish(c.OrderPlaced, { ...sampleOrder(), total: 25.99 as never }).then(
      () => expect.fail('expected a refusal'),
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(SchemaError).and.include({ code: 'PAYLOAD_MISMATCH' });
  });

  it('dead-letters garbage, unknown schema ids and corrupt Avro at once, with the reason', async () => {
    const c = contracts();
    let handled = 0;
    @Subscriber({ group })
    class Billing {
      @Handle(c.OrderPlaced, { retry: { attempts: 5, backoff: constant(0) } })
      onPlaced() {
        handled++;
      }
    }
    bus = new Bus({ transport, serviceName: 'orders-test', handlers: [Billing], serializers: [avro()] });
    await bus.start();
    // A good message first, so a valid schema id and body exist to corrupt.
    await bus.publish(c.OrderPlaced, sampleOrder());
    await waitFor(() => handled === 1, { message: 'the good message' });
    const good = await avro().encode(sampleOrder(), c.OrderPlaced);

    const raw = (body: Uint8Array): Envelope => ({
      id: uuidv7(),
      type: 'orders.OrderPlaced',
      headers: { [Header.contentType]: 'application/avro', [Header.specVersion]: '1.0' },
      body,
    });
    const garbage = raw(Buffer.from('definitely not avro'));
    const unknownId = raw(frame(987_654, Buffer.from([2, 4, 6])));
    const corrupt = raw(Buffer.from(good).subarray(0, good.length - 4));
    await transport.publish({ kind: 'channel', channel }, [garbage, unknownId, corrupt]);

    const dead = await deadLetters({ kind: 'subscription', channel, group }, 3);
    const reasons = new Map(dead.map((envelope) => [envelope.id, readFailure(envelope)!]));
    expect(reasons.get(garbage.id)).to.include({ code: 'INVALID_WIRE_FORMAT', attempts: 1 });
    expect(reasons.get(garbage.id)!.message).to.contain('magic byte');
    expect(reasons.get(unknownId.id)).to.include({ code: 'UNKNOWN_SCHEMA_ID', attempts: 1 });
    expect(reasons.get(unknownId.id)!.message).to.contain('987654');
    expect(reasons.get(corrupt.id)).to.include({ code: 'MALFORMED_BODY', attempts: 1 });
    expect(handled).to.equal(1);
    expect(bus.stats).to.include({ deadLettered: 3, retried: 0 });
  });
});
