import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AvroSerializer,
  RecordNameStrategy,
  RegistryError,
  SchemaRegistryClient,
  TopicNameStrategy,
  TopicRecordNameStrategy,
  frame,
} from '@omnibus/avro';
import {
  ConfigurationError,
  DeserializationError,
  SchemaError,
  constant,
  defineCommand,
  defineEvent,
} from '@omnibus/core';
import type { OrderPlaced, ProcessPayment } from '../../../schemas/types.js';
import type { RegistryFixture } from './registry-fixture.js';
import { startTestRegistry } from './registry-fixture.js';
import { sampleOrder } from './sample-order.js';

const schemasDir = fileURLToPath(new URL('../../../../schemas', import.meta.url));

const OrderPlacedEvent = defineEvent<OrderPlaced>({
  type: 'orders.OrderPlaced',
  channel: 'orders',
  key: (e) => e.orderId,
  schema: 'orders/OrderPlaced.avsc',
});
const OrderConfirmedEvent = defineEvent({
  type: 'orders.OrderConfirmed',
  channel: 'orders',
  schema: 'orders/OrderConfirmed.avsc',
});
const ProcessPaymentCommand = defineCommand<ProcessPayment>({
  type: 'payments.ProcessPayment',
  queue: 'payments',
  schema: 'payments/ProcessPayment.avsc',
});

/** The rejection of what encode/decode return (a value on their fast path, a promise otherwise). */
async function rejection(result: unknown): Promise<Error & { code?: string }> {
  return Promise.resolve(result).then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error as Error & { code?: string },
  );
}

describe('AvroSerializer', () => {
  let registry: RegistryFixture;
  let client: SchemaRegistryClient;
  let avro: AvroSerializer;

  beforeEach(async () => {
    registry = await startTestRegistry();
    client = new SchemaRegistryClient({ url: registry.url });
    avro = new AvroSerializer({ registry: client, schemasDir });
  });
  afterEach(async () => {
    await registry.close();
  });

  it('writes the Confluent wire format and reads it back, logical types included', async () => {
    const order = sampleOrder();
    const body = await avro.encode(order, OrderPlacedEvent);
    expect(avro.contentType).to.equal('application/avro');
    expect(body[0]).to.equal(0);
    expect(Buffer.from(body).readUInt32BE(1)).to.equal(1);
    const decoded = (await avro.decode(body, OrderPlacedEvent)) as OrderPlaced;
    expect({ ...decoded, lines: decoded.lines.map((line) => ({ ...line })) }).to.deep.equal(order);
    expect(decoded.placedAt).to.be.instanceOf(Date);
    expect(await client.listSubjects()).to.deep.equal(['orders-orders.OrderPlaced']);
  });

  it('registers once per subject and schema, then serves ids and writer schemas from cache', async () => {
    for (let i = 0; i < 50; i++) {
      await avro.decode(await avro.encode(sampleOrder(), OrderPlacedEvent), OrderPlacedEvent);
    }
    expect(registry.requests).to.deep.equal([
      'POST /subjects/orders-orders.OrderPlaced/versions',
      'GET /schemas/ids/1',
    ]);
    // Warm, both directions are synchronous; failures still arrive as rejections, never as throws.
    const body = avro.encode(sampleOrder(), OrderPlacedEvent);
    expect(body).to.be.instanceOf(Uint8Array);
    expect(avro.decode(body as Uint8Array, OrderPlacedEvent)).to.not.be.instanceOf(Promise);
    const bad = avro.encode({ ...sampleOrder(), total: 1 }, OrderPlacedEvent);
    expect(bad).to.be.instanceOf(Promise);
    expect(await rejection(bad)).to.include({ code: 'PAYLOAD_MISMATCH' });
    expect(await rejection(avro.decode(Buffer.from('x'), OrderPlacedEvent))).to.include({
      code: 'INVALID_WIRE_FORMAT',
    });
  });

  it('names subjects by the chosen strategy; TopicRecordNameStrategy by default', async () => {
    const byTopic = new AvroSerializer({
      registry: client,
      schemasDir,
      subjectNameStrategy: TopicNameStrategy,
    });
    const byRecord = new AvroSerializer({
      registry: client,
      schemasDir,
      subjectNameStrategy: RecordNameStrategy,
    });
    await byRecord.encode(sampleOrder(), OrderPlacedEvent);
    const byTopicRecord = new AvroSerializer({
      registry: client,
      schemasDir,
      subjectNameStrategy: TopicRecordNameStrategy,
    });
    await byTopicRecord.encode(sampleOrder(), OrderPlacedEvent);
    await avro.encode(sampleOrder(), OrderPlacedEvent); // the default: the same subject as byTopicRecord
    await byTopic.encode(
      {
        paymentId: '0190f0c2-7a3b-7c1d-8e2f-000000000001',
        orderId: sampleOrder().orderId,
        customerId: 'c',
        amount: '25.99',
        currency: 'EUR',
        requestedAt: new Date(),
      },
      ProcessPaymentCommand,
    );
    expect(await client.listSubjects()).to.deep.equal([
      'orders-orders.OrderPlaced',
      'orders.OrderPlaced',
      'payments-value',
    ]);
  });

  it('refuses a second record type on a TopicNameStrategy subject, saying which strategy fits', async () => {
    const byTopic = new AvroSerializer({
      registry: client,
      schemasDir,
      subjectNameStrategy: TopicNameStrategy,
    });
    await byTopic.encode(sampleOrder(), OrderPlacedEvent);
    const error = await rejection(
      byTopic.encode(
        {
          orderId: sampleOrder().orderId,
          paymentId: sampleOrder().orderId,
          reservationId: sampleOrder().orderId,
          confirmedAt: new Date(),
        },
        OrderConfirmedEvent,
      ),
    );
    expect(error)
      .to.be.instanceOf(SchemaError)
      .and.include({ code: 'INCOMPATIBLE_SCHEMA', retriable: false });
    expect(error.message).to.contain('NAME_MISMATCH').and.contain('TopicRecordNameStrategy');
  });

  it('with autoRegister off, only looks ids up', async () => {
    const strict = new AvroSerializer({ registry: client, schemasDir, autoRegister: false });
    const missing = await rejection(strict.encode(sampleOrder(), OrderPlacedEvent));
    expect(missing).to.be.instanceOf(SchemaError).and.include({ code: 'SCHEMA_NOT_REGISTERED' });
    await avro.encode(sampleOrder(), OrderPlacedEvent); // registers
    const body = await strict.encode(sampleOrder(), OrderPlacedEvent);
    expect(Buffer.from(body).readUInt32BE(1)).to.equal(1);
    expect(
      registry.requests.filter((r) => r.startsWith('POST /subjects/orders-orders.OrderPlaced/versions')),
    ).to.have.length(1);
  });

  describe('payloads that do not match the schema: SchemaError PAYLOAD_MISMATCH naming the path', () => {
    const cases: [string, Partial<Record<keyof OrderPlaced, unknown>>, string][] = [
      ['a missing field', { customerId: undefined }, 'customerId'],
      ['a wrong type', { currency: 42 }, 'currency'],
      ['money as a float', { total: 25.99 }, 'total: 25.99 is not a decimal(12,2) string'],
      ['money with too many decimals', { total: '25.999' }, 'total'],
      ['a bad uuid', { orderId: 'order-1' }, 'orderId'],
      ['a date as a string', { placedAt: '2025-03-01' }, 'placedAt'],
      ['a bad nested field', { lines: [{ sku: 'A', quantity: 1.5, unitPrice: '1.00' }] }, 'lines.0.quantity'],
    ];
    for (const [name, change, mention] of cases) {
      it(name, async () => {
        const error = await rejection(avro.encode({ ...sampleOrder(), ...change }, OrderPlacedEvent));
        expect(error)
          .to.be.instanceOf(SchemaError)
          .and.include({ code: 'PAYLOAD_MISMATCH', retriable: false });
        expect(error.message).to.contain(mention);
      });
    }

    it('and the registry is not asked', async () => {
      await rejection(avro.encode({}, OrderPlacedEvent));
      expect(registry.requests).to.deep.equal([]);
    });
  });

  describe('bodies that cannot be read', () => {
    it('no magic byte or too short: DeserializationError INVALID_WIRE_FORMAT', async () => {
      for (const body of [Buffer.from('{"orderId":"x"}'), Buffer.from([0, 0, 1])]) {
        const error = await rejection(avro.decode(body, OrderPlacedEvent));
        expect(error).to.be.instanceOf(DeserializationError).and.include({ code: 'INVALID_WIRE_FORMAT' });
      }
    });

    it('an unknown schema id: SchemaError UNKNOWN_SCHEMA_ID', async () => {
      const error = await rejection(avro.decode(frame(4242, Buffer.from([2, 3])), OrderPlacedEvent));
      expect(error)
        .to.be.instanceOf(SchemaError)
        .and.include({ code: 'UNKNOWN_SCHEMA_ID', retriable: false });
      expect(error.message).to.contain('4242');
    });

    it('truncated, trailing or corrupt Avro: DeserializationError MALFORMED_BODY', async () => {
      const body = Buffer.from(await avro.encode(sampleOrder(), OrderPlacedEvent));
      const corrupt = Buffer.from(body);
      corrupt[5] = 0x7f; // the uuid's length prefix now runs past the end
      for (const bad of [
        body.subarray(0, body.length - 3),
        Buffer.concat([body, Buffer.from([1, 2])]),
        corrupt,
      ]) {
        const error = await rejection(avro.decode(bad, OrderPlacedEvent));
        expect(error).to.be.instanceOf(DeserializationError).and.include({ code: 'MALFORMED_BODY' });
      }
    });

    it('a writer schema the reader cannot resolve: SchemaError INCOMPATIBLE_SCHEMA with the reason', async () => {
      const otherId = await client.register(
        'other',
        JSON.stringify({
          type: 'record',
          name: 'OrderPlaced',
          namespace: 'orders',
          fields: [{ name: 'x', type: 'int' }],
        }),
      );
      const error = await rejection(avro.decode(frame(otherId, Buffer.from([2])), OrderPlacedEvent));
      expect(error).to.be.instanceOf(SchemaError).and.include({ code: 'INCOMPATIBLE_SCHEMA' });
      expect(error.message).to.contain("field 'orderId'").and.contain('no default');
    });

    it('an unreachable registry: a retriable RegistryError', async () => {
      const lost = new AvroSerializer({
        registry: new SchemaRegistryClient({ url: 'http://127.0.0.1:9', attempts: 2, backoff: constant(1) }),
        schemasDir,
      });
      const error = await rejection(lost.decode(frame(1, Buffer.from([2])), OrderPlacedEvent));
      expect(error).to.be.instanceOf(RegistryError).and.include({ retriable: true });
    });
  });

  describe('contracts and configuration', () => {
    it('a contract without a schema, or with a missing file, is a SchemaError', async () => {
      const bare = defineEvent({ type: 'x.Bare', channel: 'x', contentType: 'application/avro' });
      expect(await rejection(avro.encode({}, bare)))
        .to.be.instanceOf(SchemaError)
        .and.include({ code: 'NO_SCHEMA' });
      const lost = defineEvent({ type: 'x.Lost', channel: 'x', schema: 'x/Lost.avsc' });
      expect(await rejection(avro.encode({}, lost))).to.include({ code: 'SCHEMA_FILE_NOT_FOUND' });
    });

    it('a contract without a schema reads with the writer schema', async () => {
      const body = await avro.encode(sampleOrder(), OrderPlacedEvent);
      const generic = defineEvent({
        type: 'orders.OrderPlaced',
        channel: 'orders',
        contentType: 'application/avro',
      });
      expect(await avro.decode(body, generic)).to.deep.include({ total: '25.99', currency: 'EUR' });
    });

    it('validates its options, naming the field', () => {
      const bad: [unknown, string][] = [
        [{ schemasDir }, 'registry'],
        [{ registry: {}, schemasDir }, 'registry'],
        [{ registry: client }, 'schemasDir'],
        [{ registry: client, schemasDir: join(schemasDir, 'missing') }, 'schemasDir'],
        [{ registry: client, schemasDir, autoRegister: 'yes' }, 'autoRegister'],
        [{ registry: client, schemasDir, subjectNameStrategy: 'topic' }, 'subjectNameStrategy'],
      ];
      for (const [options, field] of bad) {
        expect(() => new AvroSerializer(options as never), field)
          .to.throw(ConfigurationError)
          .with.property('field', field);
      }
    });
  });

  describe('schema evolution: writers and readers on different versions', () => {
    let dir: string;
    const version = (fields: unknown[]) =>
      JSON.stringify({ type: 'record', name: 'Shipped', namespace: 'ev', fields });
    const base = [
      { name: 'orderId', type: 'string' },
      { name: 'shippedAt', type: { type: 'long', logicalType: 'timestamp-millis' } },
    ];
    const withCarrier = [...base, { name: 'carrier', type: 'string', default: 'unknown' }];
    const withRequired = [...base, { name: 'weightGrams', type: 'int' }];
    const contract = (file: string) => defineEvent({ type: 'ev.Shipped', channel: 'shipping', schema: file });

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'omnibus-evolution-'));
      await mkdir(join(dir, 'ev'));
      await writeFile(join(dir, 'ev/v1.avsc'), version(base));
      await writeFile(join(dir, 'ev/v2.avsc'), version(withCarrier));
      await writeFile(join(dir, 'ev/v3.avsc'), version(withRequired));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('a v2 reader reads v1 data (default filled in) and a v1 reader reads v2 data (field skipped)', async () => {
      const serializer = new AvroSerializer({ registry: client, schemasDir: dir });
      const shippedAt = new Date('2025-01-02T03:04:05.006Z');
      const fromV1 = await serializer.encode({ orderId: 'o1', shippedAt }, contract('ev/v1.avsc'));
      const fromV2 = await serializer.encode(
        { orderId: 'o2', shippedAt, carrier: 'DHL' },
        contract('ev/v2.avsc'),
      );
      expect(Buffer.from(fromV2).readUInt32BE(1)).to.equal(2);
      expect({ ...((await serializer.decode(fromV1, contract('ev/v2.avsc'))) as object) }).to.deep.equal({
        orderId: 'o1',
        shippedAt,
        carrier: 'unknown',
      });
      expect({ ...((await serializer.decode(fromV2, contract('ev/v1.avsc'))) as object) }).to.deep.equal({
        orderId: 'o2',
        shippedAt,
      });
    });

    it('the registry refuses v3 (a required field), and a v3 reader cannot read v1 data', async () => {
      const serializer = new AvroSerializer({ registry: client, schemasDir: dir });
      const fromV1 = await serializer.encode(
        { orderId: 'o1', shippedAt: new Date() },
        contract('ev/v1.avsc'),
      );
      const refused = await rejection(
        serializer.encode({ orderId: 'o3', shippedAt: new Date(), weightGrams: 5 }, contract('ev/v3.avsc')),
      );
      expect(refused).to.include({ code: 'INCOMPATIBLE_SCHEMA' });
      expect(refused.message).to.contain("field 'weightGrams'");
      const unreadable = await rejection(serializer.decode(fromV1, contract('ev/v3.avsc')));
      expect(unreadable).to.be.instanceOf(SchemaError).and.include({ code: 'INCOMPATIBLE_SCHEMA' });
      expect(unreadable.message).to.contain("field 'weightGrams'");
    });
  });
});
