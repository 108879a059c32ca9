import type { ServiceMigration } from '@omnibus/sample-kit';

/** Stock per SKU (available to sell, reserved for orders) and the reservations by id. */
export const inventoryMigrations: readonly ServiceMigration[] = [
  {
    version: 1,
    name: 'stock and reservations',
    sql: (p) => `
      CREATE TABLE ${p}stock (
        sku text PRIMARY KEY,
        available integer NOT NULL CHECK (available >= 0),
        reserved integer NOT NULL CHECK (reserved >= 0)
      );
      CREATE TABLE ${p}reservations (
        reservation_id text PRIMARY KEY,
        order_id text NOT NULL,
        items text NOT NULL,
        status text NOT NULL
      );`,
  },
];

/** The stock a new database starts with: plenty, a few of one print, none of one item. */
export const INITIAL_STOCK: Readonly<Record<string, number>> = Object.freeze({
  widget: 100_000,
  gadget: 100_000,
  gizmo: 100_000,
  'limited-print': 5,
  'sold-out': 0,
});
