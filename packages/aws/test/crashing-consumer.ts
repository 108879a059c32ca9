/**
 * A consumer process that dies on a poison message: `node crashing-consumer.js <queue>`. It acks every
 * other message (printing `handled <id>`), and on a message of type `test.Poison` prints `crash <id>` and
 * kills itself with SIGKILL: no close, no release, no heartbeat any more, exactly what a crash leaves
 * behind. The test that spawns it shares its name prefix through OMNIBUS_AWS_TEST_PREFIX.
 */
import { connectedTransport } from './aws-fixtures.js';

const queue = process.argv[2]!;
const transport = await connectedTransport();
await transport.consume(
  { kind: 'queue', queue },
  async (delivery) => {
    if (delivery.envelope.type === 'test.Poison') {
      process.stdout.write(`crash ${delivery.envelope.id}\n`, () => process.kill(process.pid, 'SIGKILL'));
      return new Promise<void>(() => undefined);
    }
    await delivery.ack();
    process.stdout.write(`handled ${delivery.envelope.id}\n`);
  },
  { concurrency: 1 },
);
process.stdout.write('consuming\n');
