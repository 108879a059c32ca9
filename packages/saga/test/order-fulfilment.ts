import { defineCommand, defineEvent } from '@omnibus/core';
import type { SagaContext, SagaTimeoutInfo } from '../src/index.js';
import { Handles, Saga, StartedBy, Timeout } from '../src/index.js';

/** The order-fulfilment saga of the sample services (#19), as docs/sagas.md shows it. */
export interface OrderLine {
  readonly sku: string;
  readonly quantity: number;
}
export const OrderPlaced = defineEvent<{ orderId: string; amount: number; lines: OrderLine[] }>({
  type: 'orders.OrderPlaced',
  channel: 'orders',
  key: (e) => e.orderId,
});
export const OrderConfirmed = defineEvent<{ orderId: string }>({
  type: 'orders.OrderConfirmed',
  channel: 'orders',
});
export const OrderRejected = defineEvent<{ orderId: string; reason: string }>({
  type: 'orders.OrderRejected',
  channel: 'orders',
});
export const OrderCancelled = defineEvent<{ orderId: string; reason: string }>({
  type: 'orders.OrderCancelled',
  channel: 'orders',
});
export const ReserveStock = defineCommand<{ orderId: string; lines: OrderLine[] }>({
  type: 'inventory.ReserveStock',
  queue: 'inventory',
});
export const ReleaseStock = defineCommand<{ orderId: string; lines: OrderLine[] }>({
  type: 'inventory.ReleaseStock',
  queue: 'inventory',
});
export const StockReserved = defineEvent<{ orderId: string }>({
  type: 'inventory.StockReserved',
  channel: 'inventory',
});
export const StockRejected = defineEvent<{ orderId: string; reason: string }>({
  type: 'inventory.StockRejected',
  channel: 'inventory',
});
export const ProcessPayment = defineCommand<{ orderId: string; amount: number }>({
  type: 'payments.ProcessPayment',
  queue: 'payments',
});
export const RefundPayment = defineCommand<{ orderId: string; paymentId: string }>({
  type: 'payments.RefundPayment',
  queue: 'payments',
});
export const PaymentSucceeded = defineEvent<{ orderId: string; paymentId: string }>({
  type: 'payments.PaymentSucceeded',
  channel: 'payments',
});
export const PaymentFailed = defineEvent<{ orderId: string; reason: string }>({
  type: 'payments.PaymentFailed',
  channel: 'payments',
});

export const PAYMENT_TIMEOUT_MS = 30_000;
/** How long a cancelled order waits for a gateway answer that comes too late, to refund it. */
export const LATE_PAYMENT_GRACE_MS = 3_600_000;

export interface OrderState {
  status: 'reserving' | 'paying' | 'confirmed' | 'rejected' | 'cancelled' | 'refunded';
  amount: number;
  lines: OrderLine[];
  history: string[];
}

const byOrder = (m: { orderId: string }): string => m.orderId;

@Saga<OrderState>({
  name: 'order-fulfilment',
  initial: () => ({ status: 'reserving', amount: 0, lines: [], history: [] }),
  compensations: [ReleaseStock],
})
export class OrderFulfilment {
  @StartedBy(OrderPlaced, { correlate: byOrder })
  async placed(
    order: { orderId: string; amount: number; lines: OrderLine[] },
    saga: SagaContext<OrderState>,
  ) {
    if (!saga.isNew) return; // a redelivered or second OrderPlaced: already under way
    saga.state.amount = order.amount;
    saga.state.lines = order.lines;
    saga.state.history.push('placed');
    await saga.send(ReserveStock, { orderId: saga.key, lines: order.lines });
  }

  @Handles(StockReserved, { correlate: byOrder })
  async reserved(_event: { orderId: string }, saga: SagaContext<OrderState>) {
    if (saga.state.status !== 'reserving') return;
    saga.state.status = 'paying';
    saga.state.history.push('reserved');
    saga.compensateWith(ReleaseStock, { orderId: saga.key, lines: saga.state.lines });
    await saga.send(ProcessPayment, { orderId: saga.key, amount: saga.state.amount });
    await saga.requestTimeout('payment', { afterMs: PAYMENT_TIMEOUT_MS });
  }

  @Handles(StockRejected, { correlate: byOrder })
  async rejected(event: { orderId: string; reason: string }, saga: SagaContext<OrderState>) {
    saga.state.status = 'rejected';
    saga.state.history.push('rejected');
    await saga.publish(OrderRejected, { orderId: saga.key, reason: event.reason });
    saga.complete();
  }

  @Handles(PaymentSucceeded, { correlate: byOrder })
  async paid(event: { orderId: string; paymentId: string }, saga: SagaContext<OrderState>) {
    if (saga.state.status === 'cancelled') {
      // The gateway answered after we gave up and released the stock: give the money back.
      saga.state.status = 'refunded';
      saga.state.history.push('refunded');
      await saga.send(RefundPayment, { orderId: saga.key, paymentId: event.paymentId });
      saga.complete();
      return;
    }
    if (saga.state.status !== 'paying') return;
    saga.state.status = 'confirmed';
    saga.state.history.push('confirmed');
    await saga.publish(OrderConfirmed, { orderId: saga.key });
    saga.complete();
  }

  @Handles(PaymentFailed, { correlate: byOrder })
  async paymentFailed(event: { orderId: string; reason: string }, saga: SagaContext<OrderState>) {
    if (saga.state.status !== 'paying') return;
    await this.cancel(saga, event.reason);
    saga.complete();
  }

  @Timeout('payment')
  async paymentTimedOut(_timeout: SagaTimeoutInfo, saga: SagaContext<OrderState>) {
    if (saga.state.status !== 'paying') return;
    await this.cancel(saga, 'payment timed out');
    await saga.requestTimeout('late-payment', { afterMs: LATE_PAYMENT_GRACE_MS });
  }

  @Timeout('late-payment')
  lateWindowOver(_timeout: SagaTimeoutInfo, saga: SagaContext<OrderState>) {
    saga.complete();
  }

  private async cancel(saga: SagaContext<OrderState>, reason: string): Promise<void> {
    saga.state.status = 'cancelled';
    saga.state.history.push('cancelled');
    await saga.compensate();
    await saga.publish(OrderCancelled, { orderId: saga.key, reason });
  }
}
