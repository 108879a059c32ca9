import { expect } from 'chai';
import { KeyOrderGate } from '../../src/transport/index.js';

describe('KeyOrderGate', function () {
  it('lets items without a key straight through', function () {
    const gate = new KeyOrderGate<string>();
    expect(gate.admit(undefined, 'a')).to.equal(true);
    expect(gate.admit(undefined, 'b')).to.equal(true);
    expect(gate.release(undefined)).to.equal(undefined);
  });

  it('holds one item per key in flight and hands the parked ones out in arrival order', function () {
    const gate = new KeyOrderGate<string>();
    expect(gate.admit('k', 'k1')).to.equal(true);
    expect(gate.admit('k', 'k2')).to.equal(false);
    expect(gate.admit('k', 'k3')).to.equal(false);
    expect(gate.isBusy('k')).to.equal(true);
    expect(gate.release('k')).to.equal('k2');
    expect(gate.isBusy('k')).to.equal(true);
    expect(gate.admit('k', 'k4')).to.equal(false);
    expect(gate.release('k')).to.equal('k3');
    expect(gate.release('k')).to.equal('k4');
    expect(gate.release('k')).to.equal(undefined);
    expect(gate.isBusy('k')).to.equal(false);
    expect(gate.admit('k', 'k5')).to.equal(true);
  });

  it('runs different keys in parallel', function () {
    const gate = new KeyOrderGate<string>();
    expect(gate.admit('a', 'a1')).to.equal(true);
    expect(gate.admit('b', 'b1')).to.equal(true);
    expect(gate.admit('a', 'a2')).to.equal(false);
    expect(gate.release('b')).to.equal(undefined);
    expect(gate.release('a')).to.equal('a2');
  });

  it('drains every parked item and frees every key', function () {
    const gate = new KeyOrderGate<string>();
    gate.admit('a', 'a1');
    gate.admit('a', 'a2');
    gate.admit('b', 'b1');
    gate.admit('b', 'b2');
    gate.admit('a', 'a3');
    expect(gate.drain()).to.deep.equal(['a2', 'a3', 'b2']);
    expect(gate.isBusy('a')).to.equal(false);
    expect(gate.admit('a', 'a4')).to.equal(true);
  });

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
