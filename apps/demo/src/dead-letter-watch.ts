import type { Source, Transport } from '@omnibus/core';
import { readFailure } from '@omnibus/core';
import type { Consumer } from '@omnibus/core/transport';
import {
  OrderPlaced,
  PaymentSucceeded,
  ProcessPayment,
  ReserveStock,
  StockReserved,
} from '@omnibus/sample-kit';

export interface DeadLetterSeen {
  readonly id: string;
  readonly type: string;
  readonly of: string;
  readonly code: string;
  readonly reason: string;
  readonly attempts: number;
}

/** Every source of the sample's buses, whose dead letters the demo and the tests watch. */
export const SAMPLE_SOURCES: readonly Extract<Source, { kind: 'queue' | 'subscription' }>[] = [
  { kind: 'queue', queue: ReserveStock.queue },
  { kind: 'queue', queue: ProcessPayment.queue },
  { kind: 'queue', queue: 'order-fulfilment.timeouts' },
  { kind: 'subscription', channel: OrderPlaced.channel, group: 'order-fulfilment' },
  { kind: 'subscription', channel: StockReserved.channel, group: 'order-fulfilment' },
  { kind: 'subscription', channel: PaymentSucceeded.channel, group: 'order-fulfilment' },
  { kind: 'subscription', channel: OrderPlaced.channel, group: 'order-notifier' },
  { kind: 'subscription', channel: StockReserved.channel, group: 'order-history' },
];

/** Collects the dead letters of every sample source (once per id and source), acking them, with their reasons. */
export class DeadLetterWatch {
  readonly seen: DeadLetterSeen[] = [];
  readonly #consumers: Consumer[] = [];

  private constructor(private readonly onDeadLetter?: (dead: DeadLetterSeen) => void) {}

  static async start(
    transport: Transport,
    onDeadLetter?: (dead: DeadLetterSeen) => void,
  ): Promise<DeadLetterWatch> {
    const watch = new DeadLetterWatch(onDeadLetter);
    for (const source of SAMPLE_SOURCES) {
      const of = source.kind === 'queue' ? `queue ${source.queue}` : `${source.channel}/${source.group}`;
      watch.#consumers.push(
        await transport.consume(
          { kind: 'deadLetters', of: source },
          async (delivery) => {
            const failure = readFailure(delivery.envelope);
            const dead = {
              id: delivery.envelope.id,
              type: delivery.envelope.type,
              of,
              code: failure?.code ?? 'UNKNOWN',
              reason: failure?.message ?? '(no reason recorded)',
              attempts: failure?.attempts ?? 0,
            };
            // At least once, like any consumer: a dead letter read again (its ack lost to a broker
            // restart) is the same dead letter, by id.
            if (!watch.seen.some((known) => known.id === dead.id && known.of === dead.of)) {
              watch.seen.push(dead);
              watch.onDeadLetter?.(dead);
            }
            await delivery.ack();
          },
          { concurrency: 1 },
        ),
      );
    }
    return watch;
  }

  async stop(): Promise<void> {
    await Promise.all(this.#consumers.splice(0).map((consumer) => consumer.close()));
  }
}
