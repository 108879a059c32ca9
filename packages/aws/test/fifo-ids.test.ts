import { expect } from 'chai';
import { DeadLetterReads, deduplicationId, messageGroupId } from '../src/fifo-ids.js';

describe('FIFO ids', function () {
  const base = {
    id: '0193a1b2-0000-7000-8000-000000000001',
    type: 't',
    headers: {},
    body: new Uint8Array(0),
  };

  it('groups by key, and a keyless message by its own id', function () {
    expect(messageGroupId({ ...base, key: 'order-7' })).to.equal('order-7');
    expect(messageGroupId(base)).to.equal(base.id);
  });

  it('hashes values SQS refuses, stably', function () {
    const spaced = messageGroupId({ ...base, key: 'order 7 ü' });
    expect(spaced).to.match(/^[0-9a-f]{64}$/);
    expect(messageGroupId({ ...base, key: 'order 7 ü' })).to.equal(spaced);
    expect(deduplicationId('x'.repeat(129))).to.match(/^[0-9a-f]{64}$/);
    expect(deduplicationId(base.id)).to.equal(base.id);
  });

  it('gives a dead letter read here a fresh deduplication id once, so its replay is not dropped', function () {
    const reads = new DeadLetterReads();
    expect(reads.deduplicationIdFor(base.id)).to.equal(base.id);
    reads.noteRead(base.id);
    const replay = reads.deduplicationIdFor(base.id);
    expect(replay).not.to.equal(base.id);
    expect(replay).to.match(/^[0-9a-f]{64}$/);
    expect(reads.deduplicationIdFor(base.id)).to.equal(base.id);
  });

  it('forgets the oldest reads past its capacity', function () {
    const reads = new DeadLetterReads(2);
    reads.noteRead('a');
    reads.noteRead('b');
    reads.noteRead('c');
    expect(reads.deduplicationIdFor('a')).to.equal('a');
    expect(reads.deduplicationIdFor('b')).not.to.equal('b');
    expect(reads.deduplicationIdFor('c')).not.to.equal('c');
  });
});
