import { inject, injectable } from 'inversify';
import type { EventPublisher, MessageContext } from '@omnibus/core';
import { Bus, Emits, Handle, Subscriber } from '@omnibus/core';
import type { OrderPlacedV1, PaymentFailedV1, PaymentSucceededV1 } from './contracts.js';
import { OrderPlaced, PaymentFailed, PaymentSucceeded, ProcessPayment } from './contracts.js';

export type OrderStatus = 'placed' | 'paid' | 'payment-failed';

/** The order service's state: a map here; a table in a real service. */
export class OrderRepository {
  readonly statuses = new Map<string, OrderStatus>();
}

/** Application code: places orders and emits the domain event. */
@injectable()
export class OrderService {
  constructor(
    @inject(Bus) readonly bus: EventPublisher,
    @inject(OrderRepository) private readonly orders: OrderRepository,
  ) {}

  @Emits(OrderPlaced, (self: OrderService) => self.bus)
  async placeOrder(orderId: string, customerId: string, amountCents: number): Promise<OrderPlacedV1> {
    this.orders.statuses.set(orderId, 'placed');
    return { orderId, customerId, amountCents };
  }
}

@injectable()
@Subscriber({ group: 'order-service' })
export class OrderHandlers {
  constructor(@inject(OrderRepository) private readonly orders: OrderRepository) {}

  @Handle(OrderPlaced)
  async onOrderPlaced(event: OrderPlacedV1, ctx: MessageContext): Promise<void> {
    await ctx.send(ProcessPayment, { orderId: event.orderId, amountCents: event.amountCents });
  }

  @Handle(PaymentSucceeded)
  onPaid(event: PaymentSucceededV1): void {
    this.orders.statuses.set(event.orderId, 'paid');
  }

  @Handle(PaymentFailed)
  onPaymentFailed(event: PaymentFailedV1): void {
    this.orders.statuses.set(event.orderId, 'payment-failed');
  }
}
