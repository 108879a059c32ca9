import { expect } from 'chai';
import { ConfigurationError } from '@omnibus/core';
import { KafkaNames } from '../src/kafka-names.js';

describe('KafkaNames', function () {
  const names = new KafkaNames('');

  it('maps a subscription to its group, retry and dead-letter topics', function () {
    expect(names.of({ kind: 'subscription', channel: 'orders', group: 'billing' })).to.deep.equal({
      mainTopic: 'orders',
      groupId: 'billing.orders',
      topics: ['orders', 'billing.orders.retry'],
      retryTopic: 'billing.orders.retry',
      deadLetterTopic: 'billing.orders.dlq',
    });
  });

  it('maps a queue to a topic with one group', function () {
    expect(names.of({ kind: 'queue', queue: 'payments' })).to.deep.equal({
      mainTopic: 'payments.queue',
      groupId: 'payments',
      topics: ['payments.queue', 'payments.retry'],
      retryTopic: 'payments.retry',
      deadLetterTopic: 'payments.dlq',
    });
  });

  it('keeps a queue and a channel of the same name on different topics', function () {
    expect(names.queueTopic('payments')).to.not.equal(names.channelTopic('payments'));
    expect(names.of({ kind: 'queue', queue: 'payments' }).topics).to.not.include(
      names.channelTopic('payments'),
    );
  });

  it('reads dead letters with a group of their own, retrying onto the same topic', function () {
    const dlq = names.of({ kind: 'deadLetters', of: { kind: 'queue', queue: 'payments' } });
    expect(dlq).to.deep.equal({
      mainTopic: 'payments.dlq',
      groupId: 'payments.dlq',
      topics: ['payments.dlq'],
      retryTopic: 'payments.dlq',
      deadLetterTopic: 'payments.dlq',
    });
  });

  it('puts the prefix before every name and honours a custom dead-letter name', function () {
    const prefixed = new KafkaNames('staging.', (source) =>
      source.kind === 'queue' ? `dead.${source.queue}` : `dead.${source.group}`,
    );
    const topology = prefixed.of({ kind: 'subscription', channel: 'orders', group: 'billing' });
    expect(topology.mainTopic).to.equal('staging.orders');
    expect(topology.groupId).to.equal('staging.billing.orders');
    expect(topology.retryTopic).to.equal('staging.billing.orders.retry');
    expect(topology.deadLetterTopic).to.equal('staging.dead.billing');
    expect(prefixed.of({ kind: 'deadLetters', of: { kind: 'queue', queue: 'q' } }).groupId).to.equal(
      'staging.dead.q',
    );
  });

  it('refuses names Kafka cannot hold', function () {
    expect(() => names.channelTopic('has space')).to.throw(ConfigurationError);
    expect(() => names.queueTopic('')).to.throw(ConfigurationError);
    expect(() => names.channelTopic('x'.repeat(250))).to.throw(ConfigurationError);
    expect(() => new KafkaNames('', () => 'bad/name').of({ kind: 'queue', queue: 'q' })).to.throw(
      ConfigurationError,
    );
  });
});
