import { ConfigurationError } from '@omnibus/core';
import { expect } from 'chai';
import { PubSubNames, encodeComponent } from '../src/pubsub-names.js';

describe('Pub/Sub resource names', function () {
  const names = new PubSubNames('prod.');

  it('maps channels, groups, queues and dead letters to topic and subscription ids', function () {
    expect(names.channelTopic('orders')).to.equal('prod.orders');
    expect(names.resources({ kind: 'subscription', channel: 'orders', group: 'billing' })).to.deep.equal({
      topic: 'prod.orders',
      subscription: 'prod.orders~billing',
      deadLetterTopic: 'prod.orders~billing+dlq',
    });
    expect(names.resources({ kind: 'queue', queue: 'payments' })).to.deep.equal({
      topic: 'prod.payments+queue',
      subscription: 'prod.payments+queue',
      deadLetterTopic: 'prod.payments+queue+dlq',
    });
    expect(names.resources({ kind: 'deadLetters', of: { kind: 'queue', queue: 'payments' } })).to.deep.equal({
      topic: 'prod.payments+queue+dlq',
      subscription: 'prod.payments+queue+dlq',
      deadLetterTopic: 'prod.payments+queue+dlq',
    });
    expect(names.destinationTopic({ kind: 'queue', queue: 'payments' })).to.equal('prod.payments+queue');
  });

  it('never gives two sources one id: separators in names are encoded', function () {
    const a = names.groupSubscription('a~b', 'c');
    const b = names.groupSubscription('a', 'b~c');
    expect(a).to.equal('prod.a%7Eb~c');
    expect(b).to.equal('prod.a~b%7Ec');
    expect(names.queueTopic('orders')).not.to.equal(names.groupSubscription('orders', 'queue'));
    expect(encodeComponent('crème/brûlée')).to.equal('cr%C3%A8me%2Fbr%C3%BBl%C3%A9e');
  });

  it('refuses ids Pub/Sub would refuse, naming the cause', function () {
    const bare = new PubSubNames('');
    expect(() => bare.channelTopic('1orders')).to.throw(ConfigurationError, /namePrefix/);
    expect(() => bare.channelTopic('go')).to.throw(ConfigurationError);
    expect(() => bare.channelTopic('googlers')).to.throw(ConfigurationError);
    expect(() => bare.channelTopic('x'.repeat(256))).to.throw(ConfigurationError);
    expect(new PubSubNames('t-').channelTopic('1orders')).to.equal('t-1orders');
  });
});
