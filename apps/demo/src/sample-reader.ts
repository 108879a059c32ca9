import { DatabaseSync } from 'node:sqlite';
import type { OrderStatus, OrderView } from '@omnibus/order-service';
import type { StockLevel } from '@omnibus/inventory-service';
import type { LedgerEntry } from '@omnibus/payment-service';

/** The SQLite files of one run's services. */
export interface SampleFiles {
  readonly orders: string;
  readonly inventory: string;
  readonly payments: string;
}

/**
 * Reads what the service processes hold, straight from their SQLite files (read-only; WAL lets it read
 * while they write): the checker of `npm run demo` and of the end-to-end test.
 */
export class SampleReader {
  readonly #orders: DatabaseSync;
  readonly #inventory: DatabaseSync;
  readonly #payments: DatabaseSync;

  constructor(files: SampleFiles) {
    this.#orders = new DatabaseSync(files.orders, { readOnly: true });
    this.#inventory = new DatabaseSync(files.inventory, { readOnly: true });
    this.#payments = new DatabaseSync(files.payments, { readOnly: true });
  }

  orders(): OrderView[] {
    const rows = this.#orders.prepare('SELECT * FROM orders ORDER BY placed_at, order_id').all() as {
      order_id: string;
      customer_id: string;
      lines: string;
      total_cents: number;
      currency: string;
      status: OrderStatus;
      placed_at: string;
      completed_at: string | null;
    }[];
    return rows.map((row) => ({
      orderId: row.order_id,
      customerId: row.customer_id,
      lines: JSON.parse(row.lines) as OrderView['lines'],
      totalCents: row.total_cents,
      currency: row.currency,
      status: row.status,
      placedAt: row.placed_at,
      completedAt: row.completed_at,
      history: [],
    }));
  }

  notifications(): { orderId: string; eventType: string }[] {
    return (
      this.#orders.prepare('SELECT order_id, event_type FROM notifications').all() as {
        order_id: string;
        event_type: string;
      }[]
    ).map((row) => ({ orderId: row.order_id, eventType: row.event_type }));
  }

  ledger(): LedgerEntry[] {
    return (
      this.#payments.prepare('SELECT * FROM ledger ORDER BY recorded_at').all() as {
        idempotency_key: string;
        payment_id: string;
        order_id: string;
        kind: 'charge' | 'refund';
        amount_cents: number;
      }[]
    ).map((row) => ({
      idempotencyKey: row.idempotency_key,
      paymentId: row.payment_id,
      orderId: row.order_id,
      kind: row.kind,
      amountCents: row.amount_cents,
    }));
  }

  /** Late answers the gateway still owes. */
  unansweredLatePayments(): number {
    const row = this.#payments
      .prepare('SELECT COUNT(*) AS n FROM pending_answers WHERE answered = 0')
      .get() as {
      n: number;
    };
    return row.n;
  }

  stock(): StockLevel[] {
    return this.#inventory
      .prepare('SELECT sku, available, reserved FROM stock ORDER BY sku')
      .all() as unknown as StockLevel[];
  }

  close(): void {
    this.#orders.close();
    this.#inventory.close();
    this.#payments.close();
  }
}
