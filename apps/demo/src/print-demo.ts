import { toAmount } from '@omnibus/sample-kit';
import type { DemoResult } from './in-process-demo.js';
import { runDemo } from './in-process-demo.js';

const result = await runDemo();
console.log('Omnibus sample: order, inventory and payment services on the in-memory bus\n');
console.log(result.timeline.format());
console.log(formatTables(result));
if (result.violations.length > 0) {
  console.log(`\nINCONSISTENT:\n  ${result.violations.join('\n  ')}`);
  process.exitCode = 1;
} else {
  console.log(`\nConsistent: every order final, ledger and stock match (${result.elapsedMs} ms)`);
}

/** The final tables: orders, ledger, stock, dead letters. */
export function formatTables(run: DemoResult): string {
  const label = (orderId: string) => run.timeline.label(orderId);
  const lines = ['', 'Orders:'];
  for (const order of run.orders) {
    const last = order.history.at(-1)?.what ?? '';
    lines.push(
      `  ${label(order.orderId).padEnd(18)} ${toAmount(order.totalCents).padStart(8)} ${order.currency}  ${order.status.padEnd(10)} ${last}`,
    );
  }
  lines.push('', 'Ledger (charges +, refunds -):');
  for (const entry of run.ledger) {
    lines.push(
      `  ${label(entry.orderId).padEnd(18)} ${entry.kind.padEnd(7)} ${toAmount(entry.amountCents).padStart(8)}`,
    );
  }
  lines.push('', 'Stock:');
  for (const level of run.stock) {
    lines.push(
      `  ${level.sku.padEnd(14)} available ${String(level.available).padStart(7)}  reserved ${level.reserved}`,
    );
  }
  lines.push('', 'Dead letters:');
  for (const dead of run.deadLetters) {
    lines.push(
      `  ${dead.type} on ${dead.of} after ${dead.attempts} attempt(s): ${dead.reason} [${dead.code}]`,
    );
  }
  return lines.join('\n');
}
