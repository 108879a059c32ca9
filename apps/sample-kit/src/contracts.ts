import { defineCommand, defineEvent, defineQuery } from '@omnibus/core';
import type {
  OrderCancelled as OrderCancelledV1,
  OrderConfirmed as OrderConfirmedV1,
  OrderPlaced as OrderPlacedV1,
  OrderRejected as OrderRejectedV1,
  PaymentFailed as PaymentFailedV1,
  PaymentSucceeded as PaymentSucceededV1,
  ProcessPayment as ProcessPaymentV1,
  RefundPayment as RefundPaymentV1,
  ReleaseStock as ReleaseStockV1,
  ReserveStock as ReserveStockV1,
  StockRejected as StockRejectedV1,
  StockReleased as StockReleasedV1,
  StockReserved as StockReservedV1,
} from './schema-types.js';

/**
 * The sample's message contracts, one per Avro schema in `schemas/` (the payload types are generated from
 * them by `npm run schemas:types`). Every message is keyed by its order, so per-order order holds on
 * the brokers that keep it. Channels carry several types each: subjects follow TopicRecordNameStrategy.
 * Command queues are named apart from the channels (`inventory-commands` beside the `inventory`
 * channel): on ActiveMQ Artemis a channel and a queue of one name share an address, and the channel's
 * events would reach the queue.
 */
export const OrderPlaced = defineEvent<OrderPlacedV1>({
  type: 'orders.OrderPlaced',
  channel: 'orders',
  key: (e) => e.orderId,
  schema: 'orders/OrderPlaced.avsc',
});
export const OrderConfirmed = defineEvent<OrderConfirmedV1>({
  type: 'orders.OrderConfirmed',
  channel: 'orders',
  key: (e) => e.orderId,
  schema: 'orders/OrderConfirmed.avsc',
});
export const OrderRejected = defineEvent<OrderRejectedV1>({
  type: 'orders.OrderRejected',
  channel: 'orders',
  key: (e) => e.orderId,
  schema: 'orders/OrderRejected.avsc',
});
export const OrderCancelled = defineEvent<OrderCancelledV1>({
  type: 'orders.OrderCancelled',
  channel: 'orders',
  key: (e) => e.orderId,
  schema: 'orders/OrderCancelled.avsc',
});

export const ReserveStock = defineCommand<ReserveStockV1>({
  type: 'inventory.ReserveStock',
  queue: 'inventory-commands',
  key: (c) => c.orderId,
  schema: 'inventory/ReserveStock.avsc',
});
export const ReleaseStock = defineCommand<ReleaseStockV1>({
  type: 'inventory.ReleaseStock',
  queue: 'inventory-commands',
  key: (c) => c.orderId,
  schema: 'inventory/ReleaseStock.avsc',
});
export const StockReserved = defineEvent<StockReservedV1>({
  type: 'inventory.StockReserved',
  channel: 'inventory',
  key: (e) => e.orderId,
  schema: 'inventory/StockReserved.avsc',
});
export const StockRejected = defineEvent<StockRejectedV1>({
  type: 'inventory.StockRejected',
  channel: 'inventory',
  key: (e) => e.orderId,
  schema: 'inventory/StockRejected.avsc',
});
export const StockReleased = defineEvent<StockReleasedV1>({
  type: 'inventory.StockReleased',
  channel: 'inventory',
  key: (e) => e.orderId,
  schema: 'inventory/StockReleased.avsc',
});

export const ProcessPayment = defineCommand<ProcessPaymentV1>({
  type: 'payments.ProcessPayment',
  queue: 'payment-commands',
  key: (c) => c.orderId,
  schema: 'payments/ProcessPayment.avsc',
});
export const RefundPayment = defineCommand<RefundPaymentV1>({
  type: 'payments.RefundPayment',
  queue: 'payment-commands',
  key: (c) => c.orderId,
  schema: 'payments/RefundPayment.avsc',
});
export const PaymentSucceeded = defineEvent<PaymentSucceededV1>({
  type: 'payments.PaymentSucceeded',
  channel: 'payments',
  key: (e) => e.orderId,
  schema: 'payments/PaymentSucceeded.avsc',
});
export const PaymentFailed = defineEvent<PaymentFailedV1>({
  type: 'payments.PaymentFailed',
  channel: 'payments',
  key: (e) => e.orderId,
  schema: 'payments/PaymentFailed.avsc',
});

export type {
  OrderCancelledV1,
  OrderConfirmedV1,
  OrderPlacedV1,
  OrderRejectedV1,
  PaymentFailedV1,
  PaymentSucceededV1,
  ProcessPaymentV1,
  RefundPaymentV1,
  ReleaseStockV1,
  ReserveStockV1,
  StockRejectedV1,
  StockReleasedV1,
  StockReservedV1,
};
export type {
  CancellationReason,
  OrderLine,
  PaymentFailureReason,
  RejectionReason,
  StockItem,
  StockShortage,
} from './schema-types.js';

/** Asks the inventory service how much of a SKU it holds (request/reply; JSON, no Avro schema). */
export interface GetStockV1 {
  readonly sku: string;
}

/** The inventory service's answer to `GetStock`. */
export interface StockLevelV1 {
  readonly sku: string;
  readonly available: number;
  readonly reserved: number;
}

export const GetStock = defineQuery<GetStockV1, StockLevelV1>({
  type: 'inventory.GetStock',
  queue: 'inventory-queries',
  timeoutMs: 2_000,
});
