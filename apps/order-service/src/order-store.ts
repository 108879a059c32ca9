import type { Cents, SampleDatabase } from '@omnibus/sample-kit';
import type { OrderStatus } from './order-tables.js';
import { FINAL_STATUSES } from './order-tables.js';

export interface OrderLineView {
  readonly sku: string;
  readonly quantity: number;
  readonly unitPriceCents: Cents;
}

export interface OrderView {
  readonly orderId: string;
  readonly customerId: string;
  readonly lines: readonly OrderLineView[];
  readonly totalCents: Cents;
  readonly currency: string;
  readonly status: OrderStatus;
  readonly placedAt: string;
  readonly completedAt: string | null;
  readonly history: readonly { readonly at: string; readonly what: string }[];
}

interface OrderRow {
  order_id: string;
  customer_id: string;
  lines: string;
  total_cents: number;
  currency: string;
  status: OrderStatus;
  placed_at: string;
  completed_at: string | null;
}

/** The orders table and its history, written in the caller's unit of work. */
export class OrderStore {
  constructor(private readonly db: SampleDatabase) {}

  async insert(tx: unknown, order: Omit<OrderView, 'status' | 'completedAt' | 'history'>): Promise<void> {
    await this.db.run(
      tx,
      `INSERT INTO ${this.db.prefix}orders (order_id, customer_id, lines, total_cents, currency, status, placed_at)
       VALUES (?, ?, ?, ?, ?, 'placed', ?)`,
      [
        order.orderId,
        order.customerId,
        JSON.stringify(order.lines),
        order.totalCents,
        order.currency,
        order.placedAt,
      ],
    );
    await this.note(tx, order.orderId, 'placed');
  }

  /** Moves the order to `status` and notes why; a final status also stamps the completion time. */
  async setStatus(tx: unknown, orderId: string, status: OrderStatus, what: string): Promise<void> {
    const final = FINAL_STATUSES.includes(status);
    await this.db.run(
      tx,
      `UPDATE ${this.db.prefix}orders SET status = ?, completed_at = ${final ? '?' : 'completed_at'} WHERE order_id = ?`,
      final ? [status, new Date().toISOString(), orderId] : [status, orderId],
    );
    await this.note(tx, orderId, what);
  }

  /** Adds a line to the order's history. */
  async note(tx: unknown, orderId: string, what: string): Promise<void> {
    await this.db.run(
      tx,
      `INSERT INTO ${this.db.prefix}order_history (order_id, seq, at, what)
       SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ? FROM ${this.db.prefix}order_history WHERE order_id = ?`,
      [orderId, new Date().toISOString(), what, orderId],
    );
  }

  async get(orderId: string): Promise<OrderView | undefined> {
    const [row] = await this.db.query<OrderRow>(`SELECT * FROM ${this.db.prefix}orders WHERE order_id = ?`, [
      orderId,
    ]);
    if (row === undefined) return undefined;
    const history = await this.db.query<{ at: string; what: string }>(
      `SELECT at, what FROM ${this.db.prefix}order_history WHERE order_id = ? ORDER BY seq`,
      [orderId],
    );
    return toView(row, history);
  }

  /** Every order, oldest first, without history. */
  async list(): Promise<OrderView[]> {
    const rows = await this.db.query<OrderRow>(
      `SELECT * FROM ${this.db.prefix}orders ORDER BY placed_at, order_id`,
    );
    return rows.map((row) => toView(row, []));
  }

  /** Notifications by order: what the notifier group sent. */
  async notifications(): Promise<{ orderId: string; eventType: string; message: string }[]> {
    const rows = await this.db.query<{ order_id: string; event_type: string; message: string }>(
      `SELECT order_id, event_type, message FROM ${this.db.prefix}notifications ORDER BY order_id`,
    );
    return rows.map((row) => ({ orderId: row.order_id, eventType: row.event_type, message: row.message }));
  }
}

function toView(row: OrderRow, history: { at: string; what: string }[]): OrderView {
  return {
    orderId: row.order_id,
    customerId: row.customer_id,
    lines: JSON.parse(row.lines) as OrderLineView[],
    totalCents: Number(row.total_cents),
    currency: row.currency,
    status: row.status,
    placedAt: row.placed_at,
    completedAt: row.completed_at,
    history: history.map((h) => ({ at: h.at, what: h.what })),
  };
}
