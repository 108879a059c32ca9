import type { ServiceMigration } from '@omnibus/sample-kit';

/**
 * The fake gateway's books: the ledger (one row per charge and per refund, keyed by idempotency key, so
 * nothing is recorded twice) and the answers it still owes (charges it will confirm late).
 */
export const paymentMigrations: readonly ServiceMigration[] = [
  {
    version: 1,
    name: 'ledger and pending answers',
    sql: (p) => `
      CREATE TABLE ${p}ledger (
        idempotency_key text PRIMARY KEY,
        payment_id text NOT NULL,
        order_id text NOT NULL,
        kind text NOT NULL,
        amount_cents integer NOT NULL,
        currency text NOT NULL,
        recorded_at text NOT NULL
      );
      CREATE TABLE ${p}pending_answers (
        payment_id text PRIMARY KEY,
        order_id text NOT NULL,
        answer_at text NOT NULL,
        answered integer NOT NULL
      );`,
  },
];
