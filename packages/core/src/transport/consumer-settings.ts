import type { DeliverySink, Source } from '../transport.js';

/**
 * What every driver's consumer is constructed with, so consumers are built one way on every broker:
 * `new <Broker>Consumer(settings)`, where the driver's settings extend these with what is particular to
 * its broker (the queue, the client, the dead-letter target...).
 */
export interface ConsumerSettings<C> {
  readonly source: Source;
  readonly sink: DeliverySink;
  /** Deliveries handed out and not yet settled, at most. */
  readonly concurrency: number;
  /** Called once the consumer has closed, so its transport can forget it. */
  readonly onClosed: (consumer: C) => void;
}
