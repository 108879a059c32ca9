import { expect } from 'chai';
import { ConfigurationError } from '@omnibus/core';
import { RabbitMqNames, deadLetterQueueOf, retryBucketOf, retryQueueOf } from '../src/rabbitmq-names.js';

describe('RabbitMQ topology names', function () {
  const names = new RabbitMqNames('staging.');

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
    expect(retryQueueOf('q', 1024)).to.equal('q.delay.1024');
  });

  it('refuses names RabbitMQ would refuse', function () {
    const bare = new RabbitMqNames('');
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
