import { defineCommand, defineEvent } from '@omnibus/core';

export interface OrderPlacedV1 {
  orderId: string;
  customerId: string;
  amountCents: number;
}
export interface ProcessPaymentV1 {
  orderId: string;
  amountCents: number;
}
export interface PaymentSucceededV1 {
  orderId: string;
  paymentId: string;
}
export interface PaymentFailedV1 {
  orderId: string;
  reason: string;
}

export const OrderPlaced = defineEvent<OrderPlacedV1>({
  type: 'orders.OrderPlaced',
  channel: 'orders',
  key: (e) => e.orderId,
});
export const ProcessPayment = defineCommand<ProcessPaymentV1>({
  type: 'payments.ProcessPayment',
  queue: 'payments',
  key: (c) => c.orderId,
});
export const PaymentSucceeded = defineEvent<PaymentSucceededV1>({
  type: 'payments.PaymentSucceeded',
  channel: 'payments',
  key: (e) => e.orderId,
});
export const PaymentFailed = defineEvent<PaymentFailedV1>({
  type: 'payments.PaymentFailed',
  channel: 'payments',
  key: (e) => e.orderId,
});
