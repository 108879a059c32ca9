import type { Envelope } from '../envelope.js';
import type { Transport } from '../transport.js';

/**
 * Subscribes `group` to `channel` (provisioning the subscription) and collects, in arrival order, the
 * envelope of every delivery, acking each: the downstream reader of tests that check what was published.
 */
export async function collectChannel(
  transport: Transport,
  channel: string,
  group: string,
  concurrency = 64,
): Promise<Envelope[]> {
  await transport.provision({ subscriptions: [{ channel, group }] });
  const received: Envelope[] = [];
  await transport.consume(
    { kind: 'subscription', channel, group },
    async (delivery) => {
      received.push(delivery.envelope);
      await delivery.ack();
    },
    { concurrency },
  );
  return received;
}
