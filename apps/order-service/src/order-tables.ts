import type { ServiceMigration } from '@omnibus/sample-kit';

/** The order service's tables: orders with their history, and what the notifier sent. */
export const orderMigrations: readonly ServiceMigration[] = [
  {
    version: 1,
    name: 'orders, history, notifications',
    sql: (p) => `
      CREATE TABLE ${p}orders (
        order_id text PRIMARY KEY,
        customer_id text NOT NULL,
        lines text NOT NULL,
        total_cents integer NOT NULL,
        currency text NOT NULL,
        status text NOT NULL,
        placed_at text NOT NULL,
        completed_at text
      );
      CREATE TABLE ${p}order_history (
        order_id text NOT NULL,
        seq integer NOT NULL,
        at text NOT NULL,
        what text NOT NULL,
        PRIMARY KEY (order_id, seq)
      );
      CREATE TABLE ${p}notifications (
        order_id text NOT NULL,
        event_type text NOT NULL,
        message text NOT NULL,
        PRIMARY KEY (order_id, event_type)
      );`,
  },
];

/** An order's status; the last three are final. */
export type OrderStatus = 'placed' | 'reserving' | 'paying' | 'confirmed' | 'rejected' | 'cancelled';
export const FINAL_STATUSES: readonly OrderStatus[] = ['confirmed', 'rejected', 'cancelled'];
