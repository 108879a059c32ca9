import type { Bus, Logger, Middleware, Serializer, TelemetryOptions, Transport } from '@omnibus/core';
import { silentLogger } from '@omnibus/core';
import type { Cents, SampleConfig } from '@omnibus/sample-kit';
import { SampleDatabase, createServiceBus } from '@omnibus/sample-kit';
import { LateAnswers } from './late-answers.js';
import { PaymentHandlers } from './payment-handlers.js';
import { paymentMigrations } from './payment-tables.js';

export interface PaymentServiceOptions {
  readonly config: SampleConfig;
  readonly avro: Serializer;
  /** How long after the charge the gateway answers a `late` customer. */
  readonly lateMs: number;
  readonly transport?: Transport;
  readonly closeTransport?: boolean;
  readonly middleware?: readonly Middleware[];
  readonly logger?: Logger;
  /** Where spans and metrics go; default the global OpenTelemetry providers (what the SDK registers). */
  readonly telemetry?: TelemetryOptions;
}

export interface LedgerEntry {
  readonly idempotencyKey: string;
  readonly paymentId: string;
  readonly orderId: string;
  readonly kind: 'charge' | 'refund';
  /** Positive for a charge, negative for a refund. */
  readonly amountCents: Cents;
}

/**
 * The payment service: the fake gateway and its ledger. Run several instances on one database to see
 * competing consumers: each `ProcessPayment` is handled by one of them, and charged once whatever happens.
 */
export class PaymentService {
  readonly db: SampleDatabase;
  readonly bus: Bus;
  readonly #late: LateAnswers;

  constructor(options: PaymentServiceOptions) {
    this.db = new SampleDatabase(options.config.database, options.config.service, paymentMigrations);
    this.bus = createServiceBus({
      ...options,
      db: this.db,
      handlers: [PaymentHandlers],
      instances: new Map([[PaymentHandlers, new PaymentHandlers(this.db, options.lateMs)]]),
    });
    this.#late = new LateAnswers(this.db, this.bus, options.logger ?? silentLogger);
  }

  async start(): Promise<void> {
    await this.db.start();
    await this.bus.start();
    this.#late.start();
  }

  async stop(): Promise<void> {
    await this.#late.stop();
    await this.bus.stop();
    await this.db.close();
  }

  async ledger(): Promise<LedgerEntry[]> {
    const rows = await this.db.query<{
      idempotency_key: string;
      payment_id: string;
      order_id: string;
      kind: 'charge' | 'refund';
      amount_cents: number;
    }>(`SELECT * FROM ${this.db.prefix}ledger ORDER BY recorded_at, idempotency_key`);
    return rows.map((row) => ({
      idempotencyKey: row.idempotency_key,
      paymentId: row.payment_id,
      orderId: row.order_id,
      kind: row.kind,
      amountCents: Number(row.amount_cents),
    }));
  }
}
