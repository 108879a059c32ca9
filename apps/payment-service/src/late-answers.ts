import type { Bus, Logger } from '@omnibus/core';
import { toOmnibusError } from '@omnibus/core';
import type { SampleDatabase } from '@omnibus/sample-kit';
import { PaymentSucceeded } from '@omnibus/sample-kit';
import { succeeded } from './payment-handlers.js';

/**
 * The gateway's late answers, as its webhook would bring them: every `intervalMs`, the answers that are
 * due are published, each marked answered in the same transaction as its `PaymentSucceeded` goes to the
 * outbox, so with several instances each answer is published once, and one killed instance's answers are
 * given by another.
 */
export class LateAnswers {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: SampleDatabase,
    private readonly bus: Bus,
    private readonly logger: Logger,
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    this.#timer = setInterval(() => {
      this.#running = this.#running.then(() => this.#answerDue());
    }, this.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  async #answerDue(): Promise<void> {
    const p = this.db.prefix;
    try {
      const now = new Date().toISOString();
      const due = await this.db.query<{ payment_id: string }>(
        `SELECT payment_id FROM ${p}pending_answers WHERE answered = 0 AND answer_at <= ? LIMIT 50`,
        [now],
      );
      if (due.length === 0) return;
      await this.bus.transaction(async ({ tx, publish }) => {
        for (const { payment_id: paymentId } of due) {
          const claimed = await this.db.run(
            tx,
            `UPDATE ${p}pending_answers SET answered = 1 WHERE payment_id = ? AND answered = 0`,
            [paymentId],
          );
          if (claimed !== 1) continue; // another instance answered it
          const [charge] = await this.db.all<{ order_id: string; amount_cents: number; currency: string }>(
            tx,
            `SELECT order_id, amount_cents, currency FROM ${p}ledger WHERE idempotency_key = ?`,
            [`charge:${paymentId}`],
          );
          if (charge === undefined) continue;
          await publish(
            PaymentSucceeded,
            succeeded(paymentId, charge.order_id, Number(charge.amount_cents), charge.currency),
          );
        }
      });
    } catch (error) {
      this.logger.warn({ error: toOmnibusError(error).message }, 'late answers: will try again');
    }
  }
}
