import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SchemaRegistry as ConfluentClient, SchemaType } from '@kafkajs/confluent-schema-registry';
import { AvroSerializer, SchemaRegistryClient } from '@omnibus/avro';
import { defineEvent } from '@omnibus/core';
import type { OrderPlaced } from '../../../schemas/types.js';
import type { RegistryFixture } from './registry-fixture.js';
import { startTestRegistry } from './registry-fixture.js';
import { sampleOrder } from './sample-order.js';

const schemasDir = fileURLToPath(new URL('../../../../schemas', import.meta.url));
const OrderPlacedEvent = defineEvent<OrderPlaced>({
  type: 'orders.OrderPlaced',
  channel: 'orders',
  schema: 'orders/OrderPlaced.avsc',
});

const payment = {
  type: 'record',
  name: 'PaymentCaptured',
  namespace: 'com.example.payments',
  fields: [
    { name: 'paymentId', type: 'string' },
    { name: 'amountCents', type: 'long' },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
};

/**
 * Interoperability with a client nobody here wrote: `@kafkajs/confluent-schema-registry` (avsc without
 * logical types, the mappersmith HTTP stack) against our registry server, beside our own client.
 */
describe('interop with @kafkajs/confluent-schema-registry', () => {
  let registry: RegistryFixture;
  let foreign: ConfluentClient;
  let ours: SchemaRegistryClient;

  beforeEach(async () => {
    registry = await startTestRegistry();
    foreign = new ConfluentClient({ host: registry.url, retry: { retries: 0 } });
    ours = new SchemaRegistryClient({ url: registry.url });
  });
  afterEach(async () => {
    await registry.close();
  });

  it('registers, encodes and decodes through our server', async () => {
    const { id } = await foreign.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(payment) },
      { subject: 'payments-value' },
    );
    const value = { paymentId: 'p-1', amountCents: 4_200, note: 'first' };
    const bytes = await foreign.encode(id, value);
    expect(bytes[0]).to.equal(0);
    expect(bytes.readUInt32BE(1)).to.equal(id);
    expect({ ...(await foreign.decode(bytes)) }).to.deep.equal(value);
    // It configured the subject the way it does against Confluent's registry.
    expect(await ours.getCompatibility('payments-value')).to.equal('BACKWARD');
    expect(await foreign.getLatestSchemaId('payments-value')).to.equal(id);
    expect(await foreign.getRegistryId('payments-value', 1)).to.equal(id);
    expect(
      await foreign.getRegistryIdBySchema('payments-value', {
        type: SchemaType.AVRO,
        schema: JSON.stringify(payment),
      }),
    ).to.equal(id);
  });

  it('our client sees what it registered, with the same ids, and the reverse', async () => {
    const { id } = await foreign.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(payment) },
      { subject: 'payments-value' },
    );
    expect(await ours.register('payments-value', JSON.stringify(payment, null, 2))).to.equal(id);
    expect(JSON.parse(await ours.getSchemaById(id))).to.deep.equal(payment);
    expect(await ours.lookup('payments-value', JSON.stringify(payment))).to.deep.include({ id, version: 1 });

    const evolved = {
      ...payment,
      fields: [...payment.fields, { name: 'currency', type: 'string', default: 'EUR' }],
    };
    const evolvedId = await ours.register('payments-value', JSON.stringify(evolved));
    expect(await foreign.getLatestSchemaId('payments-value')).to.equal(evolvedId);
    const bytes = await foreign.encode(evolvedId, {
      paymentId: 'p-2',
      amountCents: 1,
      note: null,
      currency: 'USD',
    });
    // An old reader (v1) reads v2 bytes through the foreign client's own resolution.
    expect({
      ...(await foreign.decode(bytes, { [SchemaType.AVRO]: { readerSchema: payment as never } })),
    }).to.deep.equal({ paymentId: 'p-2', amountCents: 1, note: null });
  });

  it('refuses an incompatible schema to it, with our reasons', async () => {
    await foreign.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(payment) },
      { subject: 'payments-value' },
    );
    const incompatible = { ...payment, fields: [...payment.fields, { name: 'required', type: 'int' }] };
    const error = await foreign
      .register(
        { type: SchemaType.AVRO, schema: JSON.stringify(incompatible) },
        { subject: 'payments-value' },
      )
      .then(
        () => expect.fail('expected a refusal'),
        (e: unknown) => e as Error & { status?: number },
      );
    expect(error.message).to.contain("field 'required'");
  });

  it('our serializer decodes bytes it wrote (no logical types: raw long and bytes)', async () => {
    const schema = await readFile(`${schemasDir}/orders/OrderPlaced.avsc`, 'utf8');
    const { id } = await foreign.register({ type: SchemaType.AVRO, schema }, { subject: 'orders-value' });
    const placedAt = Date.parse('2025-03-01T10:00:00.123Z');
    const cents = (value: number) => Buffer.from([(value >> 8) & 0xff, value & 0xff]); // two's complement
    const bytes = await foreign.encode(id, {
      orderId: '0190f0c2-7a3b-7c1d-8e2f-123456789abc',
      customerId: 'customer-7',
      lines: [{ sku: 'BOOK-1', quantity: 2, unitPrice: cents(1250) }],
      total: cents(2599),
      currency: 'EUR',
      couponCode: 'SPRING',
      placedAt,
    });
    const avro = new AvroSerializer({ registry: ours, schemasDir });
    const decoded = (await avro.decode(bytes, OrderPlacedEvent)) as OrderPlaced;
    expect(decoded.placedAt).to.be.instanceOf(Date);
    expect(decoded.placedAt.getTime()).to.equal(placedAt);
    expect(decoded).to.deep.include({ total: '25.99', couponCode: 'SPRING', currency: 'EUR' });
    expect(decoded.lines[0]).to.deep.include({ sku: 'BOOK-1', quantity: 2, unitPrice: '12.50' });
  });

  it('it decodes bytes our serializer wrote', async () => {
    const avro = new AvroSerializer({ registry: ours, schemasDir });
    const order = sampleOrder();
    const decoded = (await foreign.decode(Buffer.from(await avro.encode(order, OrderPlacedEvent)))) as {
      placedAt: number;
      total: Buffer;
      orderId: string;
    };
    expect(decoded.placedAt).to.equal(order.placedAt.getTime());
    expect(decoded.orderId).to.equal(order.orderId);
    expect(decoded.total.readUInt16BE(0)).to.equal(2599);
  });

  it('authenticates with basic auth against a secured server', async () => {
    const secured = await startTestRegistry({ auth: { username: 'svc', password: 'pw' } });
    try {
      const authed = new ConfluentClient({
        host: secured.url,
        auth: { username: 'svc', password: 'pw' },
        retry: { retries: 0 },
      });
      const { id } = await authed.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(payment) },
        { subject: 's' },
      );
      expect({
        ...(await authed.decode(await authed.encode(id, { paymentId: 'p', amountCents: 2, note: null }))),
      }).to.deep.equal({
        paymentId: 'p',
        amountCents: 2,
        note: null,
      });
      const anonymous = new ConfluentClient({ host: secured.url, retry: { retries: 0 } });
      const refused = await anonymous.getLatestSchemaId('s').then(
        () => undefined,
        (e: unknown) => e as { status?: number },
      );
      expect(refused).to.have.property('status', 401);
    } finally {
      await secured.close();
    }
  });
});
