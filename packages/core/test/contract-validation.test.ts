import 'reflect-metadata';
import { expect } from 'chai';
import { z } from 'zod';
import type { Envelope, PayloadOf, StandardResult, StandardSchemaV1 } from '../src/index.js';
import {
  Bus,
  ConfigurationError,
  ContractViolationError,
  Handle,
  MemoryTransport,
  SchemaError,
  Subscriber,
  constant,
  defineCommand,
  defineEvent,
  readFailure,
} from '../src/index.js';
import { collectChannel, uniqueName, waitFor } from '../src/testing/index.js';

const OrderSchema = z.object({
  orderId: z.string(),
  address: z.object({ country: z.string().length(2) }),
  lines: z.array(z.object({ sku: z.string(), quantity: z.number().int().positive() })),
});

/** A hand-written Standard Schema, as a library without zod would write one: amounts are whole cents. */
function centsSchema(asynchronous: boolean): StandardSchemaV1<unknown, { amountCents: number }> {
  const check = (value: unknown): StandardResult<{ amountCents: number }> => {
    const amount = (value as { amountCents?: unknown } | null)?.amountCents;
    return Number.isInteger(amount)
      ? { value: { amountCents: amount as number } }
      : { issues: [{ message: 'must be whole cents', path: [{ key: 'amountCents' }] }] };
  };
  return {
    '~standard': {
      version: 1,
      vendor: 'omnibus-test',
      validate: (value) => (asynchronous ? Promise.resolve(check(value)) : check(value)),
    },
  };
}

describe('contract validation (Standard Schema)', function () {
  let transport: MemoryTransport;
  const buses: Bus[] = [];
  afterEach(async function () {
    await Promise.all(buses.splice(0).map((bus) => bus.stop()));
  });
  beforeEach(function () {
    transport = new MemoryTransport();
  });

  function bus(handlers: (new () => object)[] = []): Bus {
    const created = new Bus({
      transport,
      serviceName: 'test',
      closeTransport: false,
      handlers,
      retry: { attempts: 3, backoff: constant(0) },
    });
    buses.push(created);
    return created;
  }

  async function deadLetter(queue: string): Promise<Envelope> {
    const seen: Envelope[] = [];
    const consumer = await transport.consume(
      { kind: 'deadLetters', of: { kind: 'queue', queue } },
      async (delivery) => {
        seen.push(delivery.envelope);
      },
      { concurrency: 10 },
    );
    await waitFor(() => seen.length > 0, { message: 'a dead letter' });
    await consumer.close();
    return seen[0]!;
  }

  it('infers the payload type from a zod schema', function () {
    const Placed = defineEvent({ type: 'orders.Placed', channel: 'orders', validate: OrderSchema });
    const payload: PayloadOf<typeof Placed> = {
      orderId: 'o-1',
      address: { country: 'US' },
      lines: [{ sku: 'a', quantity: 1 }],
    };
    expect(payload.address.country).to.equal('US');
    expect(Placed.validate).to.equal(OrderSchema);
  });

  it('refuses a bad payload at publish with the issues, and sends nothing', async function () {
    const Placed = defineEvent({
      type: 'orders.Placed',
      channel: uniqueName('orders'),
      validate: OrderSchema,
    });
    const received = await collectChannel(transport, Placed.channel, 'reader');
    const b = bus();
    await b.start();
    const bad = { orderId: 42, address: { country: ['U', 'S'] }, lines: [] } as never;
    const error = await b.publish(Placed, bad).then(
      () => expect.fail('publish accepted a payload its schema refuses'),
      (thrown: unknown) => thrown,
    );
    expect(error).to.be.instanceOf(ContractViolationError).and.instanceOf(SchemaError);
    const violation = error as ContractViolationError;
    expect(violation.code).to.equal('CONTRACT_VIOLATION');
    expect(violation.retriable).to.equal(false);
    expect(violation.issues.map((issue) => issue.path)).to.deep.equal([
      'payload.orderId',
      'payload.address.country',
    ]);
    expect(violation.message).to.match(
      /^orders\.Placed: payload does not match its contract: payload\.orderId: /,
    );

    await b.publish(Placed, { orderId: 'good', address: { country: 'NO' }, lines: [] });
    await waitFor(() => received.length === 1, { message: 'the good event' });
    expect(received.map((envelope) => envelope.type)).to.deep.equal(['orders.Placed']);
    expect((JSON.parse(Buffer.from(received[0]!.body).toString()) as { orderId: string }).orderId).to.equal(
      'good',
    );
  });

  it('sends what the schema returns (zod strips unknown keys)', async function () {
    const Placed = defineEvent({
      type: 'orders.Placed',
      channel: uniqueName('orders'),
      validate: OrderSchema,
    });
    const received = await collectChannel(transport, Placed.channel, 'reader');
    const b = bus();
    await b.start();
    const withExtra = { orderId: 'o-1', address: { country: 'NO' }, lines: [], secret: 'x' };
    await b.publish(Placed, withExtra);
    await waitFor(() => received.length === 1, { message: 'the event' });
    expect(JSON.parse(Buffer.from(received[0]!.body).toString())).to.deep.equal({
      orderId: 'o-1',
      address: { country: 'NO' },
      lines: [],
    });
  });

  it('dead-letters a received payload that fails the schema at once, the issues as the reason', async function () {
    const Ship = defineCommand({
      type: 'shipping.Ship',
      queue: uniqueName('shipping'),
      validate: OrderSchema,
    });
    let handled = 0;
    @Subscriber({ group: 'shipping' })
    class Shipping {
      @Handle(Ship)
      ship() {
        handled++;
      }
    }
    const b = bus([Shipping]);
    await b.start();
    // A foreign producer, past the publish-side check.
    await transport.publish({ kind: 'queue', queue: Ship.queue }, [
      {
        id: 'foreign-1',
        type: Ship.type,
        headers: { datacontenttype: 'application/json' },
        body: Buffer.from(JSON.stringify({ orderId: 42, address: { country: ['U', 'S'] }, lines: [{}] })),
      },
    ]);
    const failure = readFailure(await deadLetter(Ship.queue))!;
    expect(failure).to.include({ code: 'CONTRACT_VIOLATION', attempts: 1 });
    for (const path of ['payload.orderId', 'payload.address.country', 'payload.lines[0].sku']) {
      expect(failure.message).to.contain(`${path}: `);
    }
    expect(handled).to.equal(0);
    expect(b.stats.retried).to.equal(0);

    await b.send(Ship, { orderId: 'o-2', address: { country: 'NO' }, lines: [] });
    await waitFor(() => handled === 1, { message: 'the next command handled' });
  });

  for (const asynchronous of [false, true]) {
    it(`works with a hand-written ${asynchronous ? 'asynchronous' : 'synchronous'} Standard Schema`, async function () {
      const Charge = defineCommand({
        type: 'payments.Charge',
        queue: uniqueName('payments'),
        validate: centsSchema(asynchronous),
      });
      const charged: number[] = [];
      @Subscriber({ group: 'payments' })
      class Payments {
        @Handle(Charge)
        charge(command: PayloadOf<typeof Charge>) {
          charged.push(command.amountCents);
        }
      }
      const b = bus([Payments]);
      await b.start();
      const error = await b.send(Charge, { amountCents: 1.5 }).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).to.be.instanceOf(ContractViolationError);
      expect((error as ContractViolationError).issues).to.deep.equal([
        { path: 'payload.amountCents', message: 'must be whole cents' },
      ]);
      await b.send(Charge, { amountCents: 250 });
      await transport.publish({ kind: 'queue', queue: Charge.queue }, [
        {
          id: 'foreign-2',
          type: Charge.type,
          headers: { datacontenttype: 'application/json' },
          body: Buffer.from('{"amountCents":"lots"}'),
        },
      ]);
      expect(readFailure(await deadLetter(Charge.queue))).to.include({
        code: 'CONTRACT_VIOLATION',
        message:
          'payments.Charge: payload does not match its contract: payload.amountCents: must be whole cents',
      });
      expect(charged).to.deep.equal([250]);
    });
  }

  it('names at most ten issues in the message and keeps them all on the error', async function () {
    const Wide = defineEvent({
      type: 'wide.Thing',
      channel: uniqueName('wide'),
      validate: z.object(Object.fromEntries(Array.from({ length: 12 }, (_, n) => [`f${n}`, z.string()]))),
    });
    const b = bus();
    await b.start();
    const error = (await b.publish(Wide, {}).catch((thrown: unknown) => thrown)) as ContractViolationError;
    expect(error.issues).to.have.length(12);
    expect(error.message).to.match(/payload\.f9: [^;]+; and 2 more$/);
  });

  it('refuses a validate that is not a Standard Schema, naming the field', function () {
    const notASchema = { parse: () => undefined } as unknown as StandardSchemaV1;
    expect(() => defineEvent({ type: 'a.B', channel: 'c', validate: notASchema }))
      .to.throw(ConfigurationError)
      .with.property('field', 'validate');
  });
});
