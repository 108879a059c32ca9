import type { MessageContext } from '@omnibus/core';
import { Handle, NonRetriableError, Subscriber } from '@omnibus/core';
import type { ProcessPaymentV1, RefundPaymentV1, SampleDatabase } from '@omnibus/sample-kit';
import {
  PaymentFailed,
  PaymentSucceeded,
  ProcessPayment,
  RefundPayment,
  toAmount,
  toCents,
} from '@omnibus/sample-kit';
import { GatewayUnavailableError, behaviourOf } from './fake-gateway.js';

/**
 * `ProcessPayment` and `RefundPayment` from the `payments` queue; the instances of the service compete
 * for it and share the database. The ledger row, the inbox record and the outcome event commit together.
 */
@Subscriber({ group: 'payment-service' })
export class PaymentHandlers {
  constructor(
    private readonly db: SampleDatabase,
    /** How long after the charge a `late` customer's answer comes. */
    private readonly lateMs: number,
  ) {}

  @Handle(ProcessPayment)
  async process(cmd: ProcessPaymentV1, ctx: MessageContext): Promise<void> {
    const cents = toCents(cmd.amount);
    if (cents <= 0) throw new NonRetriableError(`invalid amount ${cmd.amount} for payment ${cmd.paymentId}`);
    const p = this.db.prefix;
    const [charged] = await this.db.all<{ n: number }>(
      ctx.tx,
      `SELECT COUNT(*) AS n FROM ${p}ledger WHERE idempotency_key = ?`,
      [`charge:${cmd.paymentId}`],
    );
    if (Number(charged?.n) > 0) return; // the same payment again: charged once, answered (or to be) once
    const behaviour = behaviourOf(cmd.customerId);
    if (behaviour === 'decline') {
      await ctx.publish(PaymentFailed, {
        paymentId: cmd.paymentId,
        orderId: cmd.orderId,
        amount: cmd.amount,
        currency: cmd.currency,
        reason: 'DECLINED',
        detail: 'card declined by the issuer',
        failedAt: new Date(),
      });
      return;
    }
    if (behaviour === 'flaky' && ctx.attempt === 1) throw new GatewayUnavailableError(cmd.paymentId);
    await this.db.run(
      ctx.tx,
      `INSERT INTO ${p}ledger (idempotency_key, payment_id, order_id, kind, amount_cents, currency, recorded_at)
       VALUES (?, ?, ?, 'charge', ?, ?, ?)`,
      [`charge:${cmd.paymentId}`, cmd.paymentId, cmd.orderId, cents, cmd.currency, new Date().toISOString()],
    );
    if (behaviour === 'late') {
      await this.db.run(
        ctx.tx,
        `INSERT INTO ${p}pending_answers (payment_id, order_id, answer_at, answered) VALUES (?, ?, ?, 0)`,
        [cmd.paymentId, cmd.orderId, new Date(Date.now() + this.lateMs).toISOString()],
      );
      return;
    }
    await ctx.publish(PaymentSucceeded, succeeded(cmd.paymentId, cmd.orderId, cents, cmd.currency));
  }

  @Handle(RefundPayment)
  async refund(cmd: RefundPaymentV1, ctx: MessageContext): Promise<void> {
    const p = this.db.prefix;
    const [charge] = await this.db.all<{ amount_cents: number }>(
      ctx.tx,
      `SELECT amount_cents FROM ${p}ledger WHERE idempotency_key = ?`,
      [`charge:${cmd.paymentId}`],
    );
    if (charge === undefined)
      throw new NonRetriableError(`refund of payment ${cmd.paymentId}: nothing was charged`);
    // The charged amount, not the requested one: a refund gives back at most what was taken.
    const cents = Math.min(Number(charge.amount_cents), toCents(cmd.amount));
    await this.db.run(
      ctx.tx,
      `INSERT INTO ${p}ledger (idempotency_key, payment_id, order_id, kind, amount_cents, currency, recorded_at)
       VALUES (?, ?, ?, 'refund', ?, ?, ?) ON CONFLICT DO NOTHING`,
      [`refund:${cmd.paymentId}`, cmd.paymentId, cmd.orderId, -cents, cmd.currency, new Date().toISOString()],
    );
  }
}

export function succeeded(paymentId: string, orderId: string, cents: number, currency: string) {
  return {
    paymentId,
    orderId,
    amount: toAmount(cents),
    currency,
    gatewayReference: `gw-${paymentId.slice(-12)}`,
    succeededAt: new Date(),
  };
}
