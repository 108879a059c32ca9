import { expect } from 'chai';
import { ConfigurationError } from '@omnibus/core';
import { AwsNames } from '../src/index.js';

describe('AwsNames', function () {
  const names = new AwsNames('prod-');

  it('maps channels, groups, command queues and dead-letter queues', function () {
    expect(names.topic('orders', false)).to.equal('prod-orders');
    expect(names.topic('orders', true)).to.equal('prod-orders.fifo');
    expect(names.subscriptionQueue('orders', 'billing', false)).to.equal('prod-orders--billing');
    expect(names.subscriptionQueue('orders', 'billing', true)).to.equal('prod-orders--billing.fifo');
    expect(names.commandQueue('payments', false)).to.equal('prod-payments');
    expect(names.deadLetterQueue('prod-payments')).to.equal('prod-payments-dlq');
    expect(names.deadLetterQueue('prod-orders--billing.fifo')).to.equal('prod-orders--billing-dlq.fifo');
  });

  it('sanitises names AWS refuses, with a hash so different names never meet', function () {
    const dotted = names.commandQueue('payments.high', false);
    const underscored = names.commandQueue('payments_high', false);
    expect(dotted).to.match(/^prod-payments_high-[0-9a-f]{8}$/);
    expect(underscored).to.equal('prod-payments_high');
    expect(dotted).not.to.equal(underscored);
    expect(names.commandQueue('payments.high', false)).to.equal(dotted); // stable
    expect(names.topic('orders/eu west', false)).to.match(/^prod-orders_eu_west-[0-9a-f]{8}$/);
    expect(names.commandQueue('ünïcödé', false)).to.match(/^prod-_n_c_d_-[0-9a-f]{8}$/);
  });

  it('keeps the separators unambiguous: no `--` inside a part, no part ending in -dlq', function () {
    // Without this, channel `a--b` + group `c` and channel `a` + group `b--c` would share a queue,
    // and a command queue `x-dlq` would be the dead-letter queue of queue `x`.
    const one = names.subscriptionQueue('a--b', 'c', false);
    const other = names.subscriptionQueue('a', 'b--c', false);
    expect(one).not.to.equal(other);
    expect(names.commandQueue('x-dlq', false)).not.to.equal(
      names.deadLetterQueue(names.commandQueue('x', false)),
    );
    expect(names.commandQueue('-x', false)).to.match(/^prod-x-[0-9a-f]{8}$/);
  });

  it('refuses a name that cannot fit, naming the field, counting the dead-letter suffix and .fifo', function () {
    const longest = 80 - 'prod-'.length - '-dlq'.length;
    expect(names.commandQueue('q'.repeat(longest), false)).to.have.length(76);
    expect(() => names.commandQueue('q'.repeat(longest + 1), false))
      .to.throw(ConfigurationError)
      .with.property('field', 'queue');
    expect(() => names.commandQueue('q'.repeat(longest), true))
      .to.throw(ConfigurationError)
      .with.property('field', 'queue');
    expect(() => names.subscriptionQueue('c'.repeat(40), 'g'.repeat(40), false))
      .to.throw(ConfigurationError)
      .with.property('field', 'group');
    expect(() => names.topic('t'.repeat(252), false)).to.throw(ConfigurationError);
    expect(names.topic('t'.repeat(246), true)).to.have.length(256);
  });

  it('refuses empty names', function () {
    expect(() => names.commandQueue('', false))
      .to.throw(ConfigurationError)
      .with.property('field', 'queue');
    expect(() => names.subscriptionQueue('orders', '', false))
      .to.throw(ConfigurationError)
      .with.property('field', 'group');
  });
});
