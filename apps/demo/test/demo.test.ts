import { expect } from 'chai';
import { runDemo } from '../src/demo.js';

describe('the demo', function () {
  it('pays, retries a transient failure, declines one order and dead-letters the poison command', async function () {
    const result = await runDemo();
    expect(Object.fromEntries(result.statuses)).to.deep.equal({
      'order-1': 'paid',
      'order-2-flaky': 'paid',
      'order-3': 'payment-failed',
    });
    expect(result.deadLetters).to.have.length(1);
    expect(result.deadLetters[0]).to.include({ code: 'NON_RETRIABLE', attempts: 1 });
    expect(result.deadLetters[0]!.reason).to.contain('invalid amount -5');
    expect(result.stats.retried).to.equal(1);
    expect(result.timeline.format()).to.contain('gateway timeout (transient)');
  });
});
