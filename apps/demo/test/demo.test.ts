import { expect } from 'chai';
import { runDemo } from '../src/index.js';

describe('the demo (npm start)', function () {
  this.timeout(30_000);

  it('runs every path of the order saga on the in-memory bus and ends consistent', async function () {
    const result = await runDemo();
    expect(result.violations).to.deep.equal([]);
    const byCustomer = new Map(result.orders.map((order) => [order.customerId, order]));
    expect(
      Object.fromEntries([...byCustomer].map(([customer, order]) => [customer, order.status])),
    ).to.deep.equal({
      alice: 'confirmed',
      bob: 'rejected',
      'carol-decline': 'cancelled',
      'dave-flaky': 'confirmed',
      'erin-late': 'cancelled',
    });
    // The final table's invariants, by hand on top of `violations`:
    const net = (customer: string) =>
      result.ledger
        .filter((entry) => entry.orderId === byCustomer.get(customer)!.orderId)
        .reduce((sum, entry) => sum + entry.amountCents, 0);
    expect(net('alice')).to.equal(2_500);
    expect(net('dave-flaky')).to.equal(2_175);
    expect(net('carol-decline')).to.equal(0);
    expect(
      result.ledger.filter((e) => e.orderId === byCustomer.get('erin-late')!.orderId).map((e) => e.kind),
    ).to.deep.equal(['charge', 'refund']);
    const widget = result.stock.find((level) => level.sku === 'widget')!;
    expect(widget.reserved).to.equal(2); // alice's two; erin's one was released
    expect(result.stock.find((level) => level.sku === 'gizmo')!.reserved).to.equal(3);
    expect(result.stock.find((level) => level.sku === 'gadget')!.reserved).to.equal(0);
    expect(result.deadLetters).to.have.length(1);
    expect(result.deadLetters[0]).to.include({
      type: 'payments.ProcessPayment',
      code: 'NON_RETRIABLE',
      attempts: 1,
    });
    expect(result.deadLetters[0]!.reason).to.contain('invalid amount -5.00');
    expect(byCustomer.get('dave-flaky')!.history.map((h) => h.what)).to.include('paid 21.75; confirmed');
    expect(result.timeline.format()).to.contain('gateway unavailable').and.contain('(attempt 2)');
    expect(byCustomer.get('erin-late')!.history.map((h) => h.what)).to.include.members([
      'cancelled: no payment outcome within 1000 ms; releasing stock',
      'stock released (1 units)',
      'late payment 12.50 refunded',
    ]);
    // The payment timeouts of the orders that finished before it were cancelled, the late-payment window too.
    expect(result.pendingSchedules).to.equal(0);
    expect(result.elapsedMs).to.be.below(15_000);
  });
});
