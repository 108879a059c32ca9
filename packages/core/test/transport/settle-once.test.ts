import { expect } from 'chai';
import { SettleOnce } from '../../src/transport/index.js';

describe('SettleOnce', function () {
  it('gives the claim to the first caller only', function () {
    const once = new SettleOnce();
    expect(once.claimed).to.equal(false);
    expect(once.claim()).to.equal(true);
    expect(once.claimed).to.equal(true);
    expect(once.claim()).to.equal(false);
    expect(once.claim()).to.equal(false);
  });

  it('can be claimed again after a failed settlement reopens it', function () {
    const once = new SettleOnce();
    expect(once.claim()).to.equal(true);
    once.reopen();
    expect(once.claimed).to.equal(false);
    expect(once.claim()).to.equal(true);
    expect(once.claim()).to.equal(false);
  });
});
