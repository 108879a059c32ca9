import type { MessageContext } from '@omnibus/core';
import { Handle, Subscriber } from '@omnibus/core';
import type {
  OrderCancelledV1,
  OrderConfirmedV1,
  OrderRejectedV1,
  SampleDatabase,
} from '@omnibus/sample-kit';
import { OrderCancelled, OrderConfirmed, OrderRejected } from '@omnibus/sample-kit';

/**
 * A second subscriber group on the `orders` channel (fan-out: the saga's events reach it as well as
 * anyone else subscribed): tells the customer how the order ended. "Sending" is a row per order and
 * event, written with the inbox record, so a redelivered event notifies once.
 */
@Subscriber({ group: 'order-notifier' })
export class OrderNotifier {
  constructor(private readonly db: SampleDatabase) {}

  @Handle(OrderConfirmed)
  async confirmed(event: OrderConfirmedV1, ctx: MessageContext): Promise<void> {
    await this.notify(ctx, event.orderId, 'your order is confirmed and will ship');
  }

  @Handle(OrderRejected)
  async rejected(event: OrderRejectedV1, ctx: MessageContext): Promise<void> {
    await this.notify(
      ctx,
      event.orderId,
      `sorry, we cannot take your order: ${event.detail ?? event.reason}`,
    );
  }

  @Handle(OrderCancelled)
  async cancelled(event: OrderCancelledV1, ctx: MessageContext): Promise<void> {
    await this.notify(ctx, event.orderId, `your order was cancelled: ${event.detail ?? event.reason}`);
  }

  private async notify(ctx: MessageContext, orderId: string, message: string): Promise<void> {
    await this.db.run(
      ctx.tx,
      `INSERT INTO ${this.db.prefix}notifications (order_id, event_type, message) VALUES (?, ?, ?)
       ON CONFLICT DO NOTHING`,
      [orderId, ctx.type, message],
    );
  }
}
