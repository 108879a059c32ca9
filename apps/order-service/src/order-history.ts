import type { MessageContext } from '@omnibus/core';
import { Handle, Subscriber } from '@omnibus/core';
import type { SampleDatabase, StockReleasedV1 } from '@omnibus/sample-kit';
import { StockReleased } from '@omnibus/sample-kit';
import { OrderStore } from './order-store.js';

/**
 * Notes in an order's history what other services did for it after the saga moved on: the inventory
 * confirming it gave the stock back. (A subscriber also makes the event routable: RabbitMQ refuses an
 * event no queue is bound for, and the inventory's outbox would wait on it.)
 */
@Subscriber({ group: 'order-history' })
export class OrderHistory {
  readonly #orders: OrderStore;

  constructor(db: SampleDatabase) {
    this.#orders = new OrderStore(db);
  }

  @Handle(StockReleased)
  async released(event: StockReleasedV1, ctx: MessageContext): Promise<void> {
    const units = event.items.reduce((sum, item) => sum + item.quantity, 0);
    await this.#orders.note(ctx.tx, event.orderId, `stock released (${units} units)`);
  }
}
