import { expect } from 'chai';
import { decodeSettledOffsets, encodeSettledOffsets } from '../src/settled-offsets.js';

describe('settled offsets in commit metadata', function () {
  it('round-trips the offsets settled after the committed one', function () {
    const metadata = encodeSettledOffsets(1_000, [1_001, 1_005, 1_008, 2_000]);
    expect([...decodeSettledOffsets(metadata)].sort((a, b) => a - b)).to.deep.equal([
      1_001, 1_005, 1_008, 2_000,
    ]);
  });

  it('writes nothing when nothing after the commit is settled', function () {
    expect(encodeSettledOffsets(5, [])).to.equal('');
    expect(encodeSettledOffsets(5, [3, 5])).to.equal('');
  });

  it('stays within the broker limit, leaving offsets past the window to be delivered again', function () {
    const far = Array.from({ length: 40_000 }, (_, i) => 11 + i);
    const metadata = encodeSettledOffsets(10, far);
    expect(metadata.length).to.be.below(4_096);
    const settled = decodeSettledOffsets(metadata);
    expect(settled.has(11)).to.equal(true);
    expect(settled.has(10 + 40_000)).to.equal(false);
  });

  it('reads foreign or broken metadata as nothing settled', function () {
    for (const metadata of [
      null,
      undefined,
      '',
      'written by another client',
      'omnibus1:x:AA==',
      'omnibus1:1',
    ]) {
      expect(decodeSettledOffsets(metadata).size, String(metadata)).to.equal(0);
    }
  });
});
