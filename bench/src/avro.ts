/**
 * `npm run bench -- avro [--seconds N] [--rounds N]`: encode and decode ops/s of a typical order event, Avro (the
 * Omnibus serializer: Confluent framing, schema id from the registry cache, logical types) beside JSON
 * (the core serializer) and raw avsc (the library underneath). Single-threaded, in-process: this measures
 * serialization, not the registry (after the first call the serializer answers from its cache; a
 * registry that only counts calls stands in for the HTTP one).
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { SchemaRegistry, SubjectVersion } from '@omnibus/avro';
import { AvroSerializer, parseSchema, readSchemaFile } from '@omnibus/avro';
import { JsonSerializer, defineEvent } from '@omnibus/core';
import { printTable } from './table.js';

const schemasDir = fileURLToPath(new URL('../../../schemas', import.meta.url));

/** Holds registered schemas in a map: enough for a CPU benchmark, where every lookup after the first is cached. */
class InProcessRegistry implements SchemaRegistry {
  readonly #schemas: string[] = [];
  calls = 0;

  async register(_subject: string, schema: string): Promise<number> {
    this.calls++;
    const existing = this.#schemas.indexOf(schema);
    if (existing >= 0) return existing + 1;
    return this.#schemas.push(schema);
  }

  async lookup(subject: string, schema: string): Promise<SubjectVersion> {
    return { subject, version: 1, id: await this.register(subject, schema), schema };
  }

  async getSchemaById(id: number): Promise<string> {
    this.calls++;
    return this.#schemas[id - 1]!;
  }
}

const OrderPlaced = defineEvent({
  type: 'orders.OrderPlaced',
  channel: 'orders',
  schema: 'orders/OrderPlaced.avsc',
});

function typicalOrder() {
  return {
    orderId: '0190f0c2-7a3b-7c1d-8e2f-123456789abc',
    customerId: 'customer-000123',
    lines: [
      { sku: 'BOOK-0001', quantity: 2, unitPrice: '12.50' },
      { sku: 'PEN-0042', quantity: 10, unitPrice: '0.99' },
      { sku: 'BAG-0007', quantity: 1, unitPrice: '34.00' },
    ],
    total: '68.90',
    currency: 'EUR',
    couponCode: 'SPRING25',
    placedAt: new Date('2025-03-01T10:00:00.123Z'),
  };
}

/**
 * Calls `operation` for `seconds` (after a short warm-up) and returns operations per second. An
 * operation that returns a promise is awaited, as the bus awaits it; a synchronous one is not.
 */
async function opsPerSecond(seconds: number, operation: () => unknown): Promise<number> {
  const batch = 500;
  const isAsync = operation() instanceof Promise;
  const runFor = async (ms: number): Promise<number> => {
    const started = performance.now();
    let count = 0;
    while (performance.now() - started < ms) {
      if (isAsync) for (let i = 0; i < batch; i++) await operation();
      else for (let i = 0; i < batch; i++) operation();
      count += batch;
    }
    return count / ((performance.now() - started) / 1000);
  };
  await runFor(Math.min(500, seconds * 250));
  return runFor(seconds * 1000);
}

interface Cell {
  readonly format: string;
  readonly body: Uint8Array;
  readonly encode: () => unknown;
  readonly decode: () => unknown;
  readonly encodeOps: number[];
  readonly decodeOps: number[];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function run(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: { seconds: { type: 'string', default: '1' }, rounds: { type: 'string', default: '3' } },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  if (!(seconds > 0)) throw new Error('--seconds must be a positive number');
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');

  const order = typicalOrder();
  const registry = new InProcessRegistry();
  const avro = new AvroSerializer({ registry, schemasDir });
  const json = new JsonSerializer();
  const avsc = parseSchema(await readSchemaFile(schemasDir, 'orders/OrderPlaced.avsc')).type;

  const avroBody = await avro.encode(order, OrderPlaced);
  await avro.decode(avroBody, OrderPlaced);
  const jsonBody = json.encode(order, OrderPlaced);
  const rawBody = avsc.toBuffer(order);

  const cells: Cell[] = [
    {
      format: 'JSON (core JsonSerializer)',
      body: jsonBody,
      encode: () => json.encode(order, OrderPlaced),
      decode: () => json.decode(jsonBody, OrderPlaced),
      encodeOps: [],
      decodeOps: [],
    },
    {
      format: 'Avro (@omnibus/avro, wire format)',
      body: avroBody,
      encode: () => avro.encode(order, OrderPlaced),
      decode: () => avro.decode(avroBody, OrderPlaced),
      encodeOps: [],
      decodeOps: [],
    },
    {
      format: 'Avro (raw avsc, no framing)',
      body: rawBody,
      encode: () => avsc.toBuffer(order),
      decode: () => avsc.fromBuffer(rawBody) as unknown,
      encodeOps: [],
      decodeOps: [],
    },
  ];
  // Rounds interleave the formats, and the median is reported, so a noisy neighbour on a shared
  // machine skews one sample rather than one format.
  for (let round = 0; round < rounds; round++) {
    for (const cell of cells) {
      cell.encodeOps.push(await opsPerSecond(seconds, cell.encode));
      cell.decodeOps.push(await opsPerSecond(seconds, cell.decode));
    }
  }
  printTable(
    `OrderPlaced (3 lines, decimals, timestamp, uuid): median of ${rounds} × ${seconds} s per cell, Node ${process.version}; registry calls: ${registry.calls}`,
    cells.map((cell) => {
      const encodeOps = median(cell.encodeOps);
      const decodeOps = median(cell.decodeOps);
      return {
        format: cell.format,
        'encode ops/s': Math.round(encodeOps),
        'decode ops/s': Math.round(decodeOps),
        'µs/encode': 1e6 / encodeOps,
        'µs/decode': 1e6 / decodeOps,
        bytes: cell.body.byteLength,
      };
    }),
  );
}
