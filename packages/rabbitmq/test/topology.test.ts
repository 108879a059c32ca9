import { expect } from 'chai';
import { ConfigurationError } from '@omnibus/core';
import { KeyOrderGate } from '../src/key-order-gate.js';
import { TopologyNames, deadLetterQueueOf, retryBucketOf, retryQueueOf } from '../src/topology-names.js';

describe('RabbitMQ topology names', function () {
  const names = new TopologyNames('staging.');

  it('maps channels, groups, queues and dead letters, with the prefix', function () {
    expect(names.exchange('orders')).to.equal('staging.orders');
    expect(names.queue({ kind: 'subscription', channel: 'orders', group: 'billing' })).to.equal(
      'staging.orders/billing',
    );
    expect(names.queue({ kind: 'queue', queue: 'payments' })).to.equal('staging.payments');
    expect(names.queue({ kind: 'deadLetters', of: { kind: 'queue', queue: 'payments' } })).to.equal(
      'staging.payments.dlq',
    );
    expect(deadLetterQueueOf('q')).to.equal('q.dlq');
    expect(retryQueueOf('q', 1024)).to.equal('q.retry.1024');
  });

  it('refuses names RabbitMQ would refuse', function () {
    const bare = new TopologyNames('');
    expect(() => bare.queue({ kind: 'queue', queue: 'amq.gen' })).to.throw(ConfigurationError);
    expect(() => bare.exchange('')).to.throw(ConfigurationError);
    expect(() => bare.queue({ kind: 'queue', queue: 'q'.repeat(240) })).to.throw(ConfigurationError);
  });

  it('puts a delay in the smallest power-of-two bucket that holds it', function () {
    expect(retryBucketOf(0.2)).to.equal(1);
    expect(retryBucketOf(1)).to.equal(1);
    expect(retryBucketOf(3)).to.equal(4);
    expect(retryBucketOf(1000)).to.equal(1024);
    expect(retryBucketOf(1024)).to.equal(1024);
    expect(retryBucketOf(30_000)).to.equal(32_768);
  });
});

describe('KeyOrderGate', function () {
  it('lets keyless items and distinct keys through, parks a busy key in order', function () {
    const gate = new KeyOrderGate<string>();
    expect(gate.admit(undefined, 'n1')).to.equal(true);
    expect(gate.admit('a', 'a1')).to.equal(true);
    expect(gate.admit('b', 'b1')).to.equal(true);
    expect(gate.admit('a', 'a2')).to.equal(false);
    expect(gate.admit('a', 'a3')).to.equal(false);
    expect(gate.release('a')).to.equal('a2');
    expect(gate.admit('a', 'a4')).to.equal(false);
    expect(gate.release('a')).to.equal('a3');
    expect(gate.release('a')).to.equal('a4');
    expect(gate.release('a')).to.equal(undefined);
    expect(gate.admit('a', 'a5')).to.equal(true);
    expect(gate.release(undefined)).to.equal(undefined);
    expect(gate.release('b')).to.equal(undefined);
  });
});
