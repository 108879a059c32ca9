import { expect } from 'chai';
import { AttemptCounter } from '../src/attempt-counter.js';

describe('AttemptCounter', function () {
  it('counts deliveries per message until it is forgotten', function () {
    const counter = new AttemptCounter();
    expect([counter.next('a'), counter.next('a'), counter.next('b'), counter.next('a')]).to.deep.equal([
      1, 2, 1, 3,
    ]);
    counter.forget('a');
    expect(counter.next('a')).to.equal(1);
  });

  it('stays bounded, forgetting the least recently seen', function () {
    const counter = new AttemptCounter(2);
    counter.next('a');
    counter.next('b');
    counter.next('a');
    counter.next('c'); // b is the oldest
    expect(counter.size).to.equal(2);
    expect(counter.next('a')).to.equal(3);
    expect(counter.next('b')).to.equal(1);
  });
});
