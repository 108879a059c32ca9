import type { SagaContext, SagaTimeoutInfo } from '@omnibus/saga';
import { Handles, Saga, StartedBy, Timeout } from '@omnibus/saga';
import type {
  OrderPlacedV1,
  PaymentFailedV1,
  PaymentSucceededV1,
  StockItem,
  StockRejectedV1,
  StockReservedV1,
} from '@omnibus/sample-kit';
import {
  OrderCancelled,
  OrderConfirmed,
  OrderPlaced,
  OrderRejected,
  PaymentFailed,
  PaymentSucceeded,
  ProcessPayment,
  RefundPayment,
  ReleaseStock,
  ReserveStock,
  StockRejected,
  StockReserved,
} from '@omnibus/sample-kit';
import type { OrderStore } from './order-store.js';

export interface FulfilmentSettings {
  /** How long the saga waits for the payment's outcome before it cancels the order. */
  readonly paymentTimeoutMs: number;
  /** How long a cancelled order still waits for a gateway answer that comes too late, to refund it. */
  readonly latePaymentGraceMs: number;
}

export interface FulfilmentState {
  status: 'reserving' | 'paying' | 'confirmed' | 'rejected' | 'cancelled' | 'refunded';
  customerId: string;
  total: string;
  currency: string;
  items: StockItem[];
}

const byOrder = (message: { orderId: string }): string => message.orderId;

/**
 * The order-fulfilment saga: OrderPlaced → ReserveStock; StockReserved → ProcessPayment (and the payment
 * timeout); PaymentSucceeded → OrderConfirmed; StockRejected → OrderRejected; PaymentFailed or the
 * timeout → ReleaseStock and OrderCancelled; a PaymentSucceeded after the cancellation → RefundPayment.
 * Each step also moves the order's row, in the step's transaction (`saga.message.tx`).
 *
 * The reservation and the payment are keyed by the order id (both ids are chosen by the sender), so a
 * command sent twice reserves and charges once.
 */
@Saga<FulfilmentState>({
  name: 'order-fulfilment',
  initial: () => ({ status: 'reserving', customerId: '', total: '0.00', currency: 'EUR', items: [] }),
})
export class OrderFulfilment {
  constructor(
    private readonly orders: OrderStore,
    private readonly settings: FulfilmentSettings,
  ) {}

  @StartedBy(OrderPlaced, { correlate: byOrder })
  async placed(order: OrderPlacedV1, saga: SagaContext<FulfilmentState>): Promise<void> {
    if (!saga.isNew) return; // a second OrderPlaced of one order: already under way
    saga.state = {
      status: 'reserving',
      customerId: order.customerId,
      total: order.total,
      currency: order.currency,
      items: order.lines.map((line) => ({ sku: line.sku, quantity: line.quantity })),
    };
    await saga.send(ReserveStock, {
      reservationId: saga.key,
      orderId: saga.key,
      items: saga.state.items,
      requestedAt: new Date(),
    });
    await this.orders.setStatus(saga.message.tx, saga.key, 'reserving', 'reserving stock');
  }

  @Handles(StockReserved, { correlate: byOrder })
  async reserved(_event: StockReservedV1, saga: SagaContext<FulfilmentState>): Promise<void> {
    if (saga.state.status !== 'reserving') return;
    saga.state.status = 'paying';
    await saga.send(ProcessPayment, {
      paymentId: saga.key,
      orderId: saga.key,
      customerId: saga.state.customerId,
      amount: saga.state.total,
      currency: saga.state.currency,
      requestedAt: new Date(),
    });
    await saga.requestTimeout('payment', { afterMs: this.settings.paymentTimeoutMs });
    await this.orders.setStatus(saga.message.tx, saga.key, 'paying', 'stock reserved; charging');
  }

  @Handles(StockRejected, { correlate: byOrder })
  async rejected(event: StockRejectedV1, saga: SagaContext<FulfilmentState>): Promise<void> {
    if (saga.state.status !== 'reserving') return;
    saga.state.status = 'rejected';
    const detail = event.shortages
      .map((s) => `${s.sku}: ${s.requested} requested, ${s.available} available`)
      .join('; ');
    await saga.publish(OrderRejected, {
      orderId: saga.key,
      reason: 'OUT_OF_STOCK',
      detail,
      rejectedAt: new Date(),
    });
    await this.orders.setStatus(saga.message.tx, saga.key, 'rejected', `rejected: out of stock (${detail})`);
    saga.complete();
  }

  @Handles(PaymentSucceeded, { correlate: byOrder })
  async paid(event: PaymentSucceededV1, saga: SagaContext<FulfilmentState>): Promise<void> {
    if (saga.state.status === 'cancelled') {
      // The gateway answered after we gave up and released the stock: give the money back.
      saga.state.status = 'refunded';
      await saga.send(RefundPayment, {
        paymentId: event.paymentId,
        orderId: saga.key,
        amount: event.amount,
        currency: event.currency,
        reason: 'the payment came after the order was cancelled',
        requestedAt: new Date(),
      });
      await this.orders.note(saga.message.tx, saga.key, `late payment ${event.amount} refunded`);
      saga.complete();
      return;
    }
    if (saga.state.status !== 'paying') return;
    saga.state.status = 'confirmed';
    await saga.publish(OrderConfirmed, {
      orderId: saga.key,
      paymentId: event.paymentId,
      reservationId: saga.key,
      confirmedAt: new Date(),
    });
    await this.orders.setStatus(saga.message.tx, saga.key, 'confirmed', `paid ${event.amount}; confirmed`);
    saga.complete();
  }

  @Handles(PaymentFailed, { correlate: byOrder })
  async paymentFailed(event: PaymentFailedV1, saga: SagaContext<FulfilmentState>): Promise<void> {
    if (saga.state.status !== 'paying') return;
    await this.cancel(saga, 'PAYMENT_FAILED', `payment failed: ${event.reason}`);
    saga.complete();
  }

  @Timeout('payment')
  async paymentTimedOut(_timeout: SagaTimeoutInfo, saga: SagaContext<FulfilmentState>): Promise<void> {
    if (saga.state.status !== 'paying') return;
    await this.cancel(saga, 'TIMED_OUT', `no payment outcome within ${this.settings.paymentTimeoutMs} ms`);
    await saga.requestTimeout('late-payment', { afterMs: this.settings.latePaymentGraceMs });
  }

  @Timeout('late-payment')
  lateWindowOver(_timeout: SagaTimeoutInfo, saga: SagaContext<FulfilmentState>): void {
    saga.complete();
  }

  /**
   * Compensates by sending ReleaseStock here rather than through `compensateWith`: a recorded compensation
   * is kept in the saga's JSON state, where the command's `requestedAt` Date would come back as a string
   * that its Avro schema (timestamp-millis) refuses.
   */
  private async cancel(
    saga: SagaContext<FulfilmentState>,
    reason: 'PAYMENT_FAILED' | 'TIMED_OUT',
    detail: string,
  ): Promise<void> {
    saga.state.status = 'cancelled';
    await saga.send(ReleaseStock, {
      reservationId: saga.key,
      orderId: saga.key,
      reason: detail,
      requestedAt: new Date(),
    });
    await saga.publish(OrderCancelled, { orderId: saga.key, reason, detail, cancelledAt: new Date() });
    await this.orders.setStatus(
      saga.message.tx,
      saga.key,
      'cancelled',
      `cancelled: ${detail}; releasing stock`,
    );
  }
}
