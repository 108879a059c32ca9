import { inject, injectable } from 'inversify';
import type { MessageContext } from '@omnibus/core';
import { Handle, NonRetriableError, Subscriber, exponential } from '@omnibus/core';
import type { ProcessPaymentV1 } from './contracts.js';
import { PaymentFailed, PaymentSucceeded, ProcessPayment } from './contracts.js';

/** The card processor; the demo's one fails once for some orders, as real gateways do. */
export interface PaymentGateway {
  charge(
    orderId: string,
    amountCents: number,
  ): Promise<{ ok: true; paymentId: string } | { ok: false; reason: string }>;
}
export const PaymentGateway = Symbol('PaymentGateway');

@injectable()
@Subscriber({ group: 'payment-service' })
export class PaymentHandlers {
  constructor(@inject(PaymentGateway) private readonly gateway: PaymentGateway) {}

  @Handle(ProcessPayment, {
    retry: { attempts: 5, backoff: exponential({ initialMs: 50 }) },
    timeoutMs: 5_000,
  })
  async process(cmd: ProcessPaymentV1, ctx: MessageContext): Promise<void> {
    if (!Number.isInteger(cmd.amountCents) || cmd.amountCents <= 0) {
      throw new NonRetriableError(`invalid amount ${cmd.amountCents} for order ${cmd.orderId}`);
    }
    const result = await this.gateway.charge(cmd.orderId, cmd.amountCents);
    if (result.ok) await ctx.publish(PaymentSucceeded, { orderId: cmd.orderId, paymentId: result.paymentId });
    else await ctx.publish(PaymentFailed, { orderId: cmd.orderId, reason: result.reason });
  }
}

/** A gateway that declines large amounts and times out once on orders whose id ends in "-flaky". */
export class DemoGateway implements PaymentGateway {
  readonly #failedOnce = new Set<string>();

  async charge(orderId: string, amountCents: number) {
    if (orderId.endsWith('-flaky') && !this.#failedOnce.has(orderId)) {
      this.#failedOnce.add(orderId);
      throw new Error('gateway timeout (transient)');
    }
    if (amountCents > 100_000) return { ok: false as const, reason: 'card declined: over limit' };
    return { ok: true as const, paymentId: `pay-${orderId}` };
  }
}
