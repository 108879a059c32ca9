import { runDemo } from './demo.js';

const result = await runDemo();
console.log('Omnibus demo: orders and payments on the in-memory bus\n');
console.log(result.timeline.format());
console.log('\nOrders:');
for (const [orderId, status] of result.statuses) console.log(`  ${orderId.padEnd(16)} ${status}`);
console.log('\nDead letters:');
for (const dead of result.deadLetters)
  console.log(`  …${dead.id.slice(-6)}  ${dead.code}  after ${dead.attempts} attempt(s): ${dead.reason}`);
const { received, handled, retried, deadLettered } = result.stats;
console.log(
  `\nBus: ${received} deliveries, ${handled} handled, ${retried} retried, ${deadLettered} dead-lettered`,
);
