import type { OrderView } from '@omnibus/order-service';
import { FINAL_STATUSES } from '@omnibus/order-service';
import type { StockLevel } from '@omnibus/inventory-service';
import type { LedgerEntry } from '@omnibus/payment-service';
import type { DeadLetterSeen } from './dead-letter-watch.js';

/** What the three services hold at the end of a run. */
export interface SampleOutcome {
  readonly orders: readonly OrderView[];
  readonly ledger: readonly LedgerEntry[];
  readonly stock: readonly StockLevel[];
  readonly initialStock: Readonly<Record<string, number>>;
  readonly notifications: readonly { orderId: string; eventType: string }[];
  readonly deadLetters: readonly DeadLetterSeen[];
  /** Ids of the poison commands sent on purpose: the only dead letters allowed. */
  readonly poisonIds: readonly string[];
}

/**
 * The sample's invariants, as a list of violations (empty when the run is consistent): every order has
 * exactly one final state and one notification of it; the ledger's net per order is the order's total
 * when confirmed and zero otherwise, with no idempotency key twice; reserved stock is the stock of the
 * confirmed orders, and nothing was created or lost; the only dead letters are the poison commands, each
 * refused by the handler (NON_RETRIABLE), not exhausted by redeliveries.
 */
export function violations(outcome: SampleOutcome): string[] {
  const problems: string[] = [];
  const net = new Map<string, number>();
  const keys = new Set<string>();
  for (const entry of outcome.ledger) {
    if (keys.has(entry.idempotencyKey)) problems.push(`ledger: ${entry.idempotencyKey} recorded twice`);
    keys.add(entry.idempotencyKey);
    net.set(entry.orderId, (net.get(entry.orderId) ?? 0) + entry.amountCents);
  }
  const reservedBySku = new Map<string, number>();
  const orderIds = new Set(outcome.orders.map((order) => order.orderId));
  for (const order of outcome.orders) {
    if (!FINAL_STATUSES.includes(order.status))
      problems.push(`order ${order.orderId} is still ${order.status}`);
    const expected = order.status === 'confirmed' ? order.totalCents : 0;
    const paid = net.get(order.orderId) ?? 0;
    if (paid !== expected) {
      problems.push(`order ${order.orderId} (${order.status}): ledger net ${paid}, expected ${expected}`);
    }
    if (order.status === 'confirmed') {
      for (const line of order.lines)
        reservedBySku.set(line.sku, (reservedBySku.get(line.sku) ?? 0) + line.quantity);
    }
    const told = outcome.notifications.filter((n) => n.orderId === order.orderId);
    if (FINAL_STATUSES.includes(order.status) && told.length !== 1) {
      problems.push(`order ${order.orderId}: ${told.length} notifications, expected 1`);
    }
  }
  for (const orderId of net.keys()) {
    if (!orderIds.has(orderId)) problems.push(`ledger: entries for unknown order ${orderId}`);
  }
  for (const level of outcome.stock) {
    const reserved = reservedBySku.get(level.sku) ?? 0;
    if (level.reserved !== reserved) {
      problems.push(`stock ${level.sku}: ${level.reserved} reserved, confirmed orders hold ${reserved}`);
    }
    const initial = outcome.initialStock[level.sku] ?? 0;
    if (level.available + level.reserved !== initial) {
      problems.push(
        `stock ${level.sku}: ${level.available} + ${level.reserved} is not the initial ${initial}`,
      );
    }
  }
  const unexpected = outcome.deadLetters.filter((dead) => !outcome.poisonIds.includes(dead.id));
  for (const dead of unexpected) {
    problems.push(`unexpected dead letter ${dead.type} on ${dead.of}: ${dead.code} ${dead.reason}`);
  }
  for (const id of outcome.poisonIds) {
    const dead = outcome.deadLetters.filter((d) => d.id === id);
    if (dead.length !== 1)
      problems.push(`poison command ${id}: dead-lettered ${dead.length} times, expected once`);
    for (const d of dead) {
      if (d.code !== 'NON_RETRIABLE') {
        problems.push(
          `poison command ${id}: dead-lettered as ${d.code} after ${d.attempts} attempts: ${d.reason}`,
        );
      }
    }
  }
  return problems;
}
