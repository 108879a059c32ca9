import 'reflect-metadata';
import { expect } from 'chai';
import { SagaScenario } from '../src/testing/index.js';
import {
  LATE_PAYMENT_GRACE_MS,
  OrderCancelled,
  OrderConfirmed,
  OrderFulfilment,
  OrderPlaced,
  OrderRejected,
  PAYMENT_TIMEOUT_MS,
  PaymentFailed,
  PaymentSucceeded,
  ProcessPayment,
  RefundPayment,
  ReleaseStock,
  ReserveStock,
  StockRejected,
  StockReserved,
} from './order-fulfilment.js';
import type { OrderState } from './order-fulfilment.js';

describe('order-fulfilment saga (scenario harness)', function () {
  const lines = [{ sku: 'sku-1', quantity: 2 }];
  let scenario: SagaScenario;

  beforeEach(function () {
    scenario = new SagaScenario(OrderFulfilment);
  });

  async function placeAndReserve(orderId = 'o1'): Promise<void> {
    expect(await scenario.deliver(OrderPlaced, { orderId, amount: 50, lines })).to.equal('handled');
    expect(await scenario.deliver(StockReserved, { orderId })).to.equal('handled');
  }

  it('OrderPlaced starts an instance and sends ReserveStock', async function () {
    await scenario.deliver(OrderPlaced, { orderId: 'o1', amount: 50, lines });
    expect(scenario.sent(ReserveStock)).to.deep.equal([{ orderId: 'o1', lines }]);
    expect((await scenario.state<OrderState>('o1'))?.status).to.equal('reserving');
    expect(await scenario.version('o1')).to.equal(1);
    expect(scenario.stats.started).to.equal(1);
  });

  it('the happy path: reserved → ProcessPayment with a payment timeout → paid → OrderConfirmed, completed, timeout cancelled', async function () {
    await placeAndReserve();
    expect(scenario.sent(ProcessPayment)).to.deep.equal([{ orderId: 'o1', amount: 50 }]);
    const [timeout] = scenario.timeouts('o1');
    expect(timeout?.name).to.equal('payment');
    expect(timeout?.dueAt.getTime()).to.equal(scenario.now.getTime() + PAYMENT_TIMEOUT_MS);
    await scenario.deliver(PaymentSucceeded, { orderId: 'o1', paymentId: 'p1' });
    expect(scenario.published(OrderConfirmed)).to.deep.equal([{ orderId: 'o1' }]);
    expect(await scenario.completed('o1')).to.equal(true);
    expect(scenario.timeouts()).to.deep.equal([]);
    expect(await scenario.advance(PAYMENT_TIMEOUT_MS * 2)).to.deep.equal([]);
    expect(scenario.sent(ReleaseStock)).to.deep.equal([]);
  });

  it('StockRejected → OrderRejected and completion', async function () {
    await scenario.deliver(OrderPlaced, { orderId: 'o1', amount: 50, lines });
    await scenario.deliver(StockRejected, { orderId: 'o1', reason: 'out of stock' });
    expect(scenario.published(OrderRejected)).to.deep.equal([{ orderId: 'o1', reason: 'out of stock' }]);
    expect(await scenario.completed('o1')).to.equal(true);
    expect(scenario.sent(ProcessPayment)).to.deep.equal([]);
  });

  it('PaymentFailed → ReleaseStock (the recorded compensation) → OrderCancelled', async function () {
    await placeAndReserve();
    await scenario.deliver(PaymentFailed, { orderId: 'o1', reason: 'declined' });
    expect(scenario.sent(ReleaseStock)).to.deep.equal([{ orderId: 'o1', lines }]);
    expect(scenario.published(OrderCancelled)).to.deep.equal([{ orderId: 'o1', reason: 'declined' }]);
    expect(await scenario.completed('o1')).to.equal(true);
    expect(scenario.timeouts()).to.deep.equal([]);
  });

  it('the payment timeout fires only when the clock reaches it, and cancels the order', async function () {
    await placeAndReserve();
    expect(await scenario.advance(PAYMENT_TIMEOUT_MS - 1)).to.deep.equal([]);
    expect(scenario.sent(ReleaseStock)).to.deep.equal([]);
    const fired = await scenario.advance(1);
    expect(fired.map((t) => t.name)).to.deep.equal(['payment']);
    expect(scenario.sent(ReleaseStock)).to.deep.equal([{ orderId: 'o1', lines }]);
    expect(scenario.published(OrderCancelled)).to.deep.equal([
      { orderId: 'o1', reason: 'payment timed out' },
    ]);
    expect((await scenario.state<OrderState>('o1'))?.status).to.equal('cancelled');
    expect(await scenario.completed('o1')).to.equal(false);
    expect(scenario.timeouts('o1').map((t) => t.name)).to.deep.equal(['late-payment']);
  });

  it('a PaymentSucceeded after the cancellation → RefundPayment, and no second ReleaseStock', async function () {
    await placeAndReserve();
    await scenario.advance(PAYMENT_TIMEOUT_MS);
    await scenario.deliver(PaymentSucceeded, { orderId: 'o1', paymentId: 'p1' });
    expect(scenario.sent(RefundPayment)).to.deep.equal([{ orderId: 'o1', paymentId: 'p1' }]);
    expect(scenario.sent(ReleaseStock)).to.have.length(1);
    expect(scenario.published(OrderConfirmed)).to.deep.equal([]);
    expect(await scenario.completed('o1')).to.equal(true);
    expect(scenario.timeouts()).to.deep.equal([]);
  });

  it('a cancelled order with no late payment completes when the grace period ends', async function () {
    await placeAndReserve();
    await scenario.advance(PAYMENT_TIMEOUT_MS);
    const fired = await scenario.advance(LATE_PAYMENT_GRACE_MS);
    expect(fired.map((t) => t.name)).to.deep.equal(['late-payment']);
    expect(await scenario.completed('o1')).to.equal(true);
  });

  it('a second OrderPlaced goes to the existing instance, not a new one', async function () {
    await placeAndReserve();
    expect(await scenario.deliver(OrderPlaced, { orderId: 'o1', amount: 99, lines: [] })).to.equal('handled');
    expect(scenario.sent(ReserveStock)).to.have.length(1);
    const state = await scenario.state<OrderState>('o1');
    expect(state?.status).to.equal('paying');
    expect(state?.amount).to.equal(50);
    expect(scenario.stats.started).to.equal(1);
  });

  it('a message for an unknown or completed instance is acked and counted (unmatched: ack)', async function () {
    expect(await scenario.deliver(StockReserved, { orderId: 'nobody' })).to.equal('unmatched');
    await scenario.deliver(OrderPlaced, { orderId: 'o1', amount: 50, lines });
    await scenario.deliver(StockRejected, { orderId: 'o1', reason: 'none left' });
    expect(await scenario.deliver(StockReserved, { orderId: 'o1' })).to.equal('unmatched');
    expect(scenario.stats.unmatched).to.equal(2);
    expect(scenario.sent(ProcessPayment)).to.deep.equal([]);
  });

  it('instances are independent', async function () {
    await placeAndReserve('a');
    await placeAndReserve('b');
    await scenario.deliver(PaymentSucceeded, { orderId: 'a', paymentId: 'pa' });
    await scenario.advance(PAYMENT_TIMEOUT_MS);
    expect((await scenario.state<OrderState>('a'))?.status).to.equal('confirmed');
    expect((await scenario.state<OrderState>('b'))?.status).to.equal('cancelled');
    expect(scenario.messages.filter((m) => m.type === ReleaseStock.type).map((m) => m.key)).to.deep.equal([
      'b',
    ]);
  });
});
