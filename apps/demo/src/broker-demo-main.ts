// `npm run demo -- --broker rabbitmq|kafka|aws|pubsub|nats|amqp10 [--orders N]`: the sample's services as
// processes on a real broker (the lab's; see docs/brokers.md). Exits 1 on any inconsistency.
import { parseArgs } from 'node:util';
import type { BrokerName } from './broker-demo.js';
import { runBrokerDemo } from './broker-demo.js';

const BROKERS: readonly BrokerName[] = ['rabbitmq', 'kafka', 'aws', 'pubsub', 'nats', 'amqp10'];
const { values } = parseArgs({
  options: { broker: { type: 'string' }, orders: { type: 'string', default: '50' } },
});
const broker = values.broker as BrokerName;
const orders = Number(values.orders);
if (!BROKERS.includes(broker) || !Number.isInteger(orders) || orders < 2) {
  process.stderr.write(
    `usage: npm run demo -- --broker ${BROKERS.join('|')} [--orders N (>= 2, default 50)]\n`,
  );
  process.exit(2);
}
const tty = process.stdout.isTTY;
/** Off a terminal (a CI log) the progress line is printed when it changes by a tenth, not redrawn. */
let printed = '';
const result = await runBrokerDemo({
  broker,
  orders,
  onStep: (step) => process.stdout.write(`${tty ? '\r\x1b[K' : ''}${step}\n`),
  onProgress: ({ placed, final, total }) => {
    const width = 30;
    const bar = '#'.repeat(Math.round((final / total) * width)).padEnd(width, '.');
    const line = `[${bar}] placed ${placed}/${total}, final ${final}/${total}`;
    if (tty) process.stdout.write(`\r\x1b[K${line}`);
    const tenths = `${Math.floor((placed / total) * 10)}/${Math.floor((final / total) * 10)}`;
    if (!tty && tenths !== printed) {
      printed = tenths;
      process.stdout.write(`${line}\n`);
    }
  },
});
if (tty) process.stdout.write('\n');
console.log(`\n${orders} orders on ${broker} in ${(result.elapsedMs / 1000).toFixed(1)} s`);
for (const [outcome, count] of Object.entries(result.outcomes))
  console.log(`  ${outcome.padEnd(32)} ${count}`);
console.log(
  `  dead letters                     ${result.deadLetters.length} (${result.deadLetters.map((d) => d.reason).join('; ')})`,
);
console.log(`order completion: p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms`);
if (result.violations.length > 0) {
  console.log(
    `\nINCONSISTENT (${result.violations.length}):\n  ${result.violations.slice(0, 20).join('\n  ')}`,
  );
  process.exit(1);
}
console.log(
  'consistent: every order final once, ledger and stock match, only the poison command dead-lettered',
);
