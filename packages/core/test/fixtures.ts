import { defineCommand, defineEvent } from '../src/index.js';

export interface OrderPlacedV1 {
  orderId: string;
  total: number;
}
export interface ProcessPaymentV1 {
  orderId: string;
  amount: number;
}

/** Fresh contracts per test, so every test runs on its own channel and queue. */
export function contracts(suffix: string) {
  return {
    OrderPlaced: defineEvent<OrderPlacedV1>({
      type: 'orders.OrderPlaced',
      channel: `orders-${suffix}`,
      key: (e) => e.orderId,
    }),
    OrderCancelled: defineEvent<{ orderId: string }>({
      type: 'orders.OrderCancelled',
      channel: `orders-${suffix}`,
    }),
    ProcessPayment: defineCommand<ProcessPaymentV1>({
      type: 'payments.ProcessPayment',
      queue: `payments-${suffix}`,
    }),
  };
}
