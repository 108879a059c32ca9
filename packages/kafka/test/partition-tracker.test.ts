import { expect } from 'chai';
import type { TrackedEntry, TrackedRecord } from '../src/partition-tracker.js';
import { PartitionTracker } from '../src/partition-tracker.js';
import { decodeSettledOffsets } from '../src/settled-offsets.js';

const record = (offset: number, key?: string, dueAt?: number): TrackedRecord => ({
  offset,
  key,
  dueAt,
  bytes: 10,
});

function takeAll(tracker: PartitionTracker<TrackedRecord>, now = 0): TrackedEntry<TrackedRecord>[] {
  const taken: TrackedEntry<TrackedRecord>[] = [];
  for (let entry = tracker.take(now); entry !== undefined; entry = tracker.take(now)) taken.push(entry);
  return taken;
}

const offsets = (entries: TrackedEntry<TrackedRecord>[]) => entries.map((e) => e.record.offset);

describe('PartitionTracker', function () {
  it('hands out records without keys all at once, in offset order', function () {
    const tracker = new PartitionTracker<TrackedRecord>('t', 0);
    tracker.accept([record(5), record(6), record(7)], 7);
    expect(offsets(takeAll(tracker))).to.deep.equal([5, 6, 7]);
    expect(tracker.inFlight).to.equal(3);
    expect(tracker.bufferedBytes).to.equal(0);
  });

  it('hands out one record per key at a time, other keys in parallel', function () {
    const tracker = new PartitionTracker<TrackedRecord>('t', 0);
    tracker.accept([record(0, 'a'), record(1, 'a'), record(2, 'b'), record(3, 'a'), record(4, 'b')], 4);
    const first = takeAll(tracker);
    expect(offsets(first)).to.deep.equal([0, 2]);
    expect(tracker.bufferedBytes, 'three records wait').to.equal(30);
    tracker.settle(first[1]!); // b@2
    expect(offsets(takeAll(tracker))).to.deep.equal([4]);
    tracker.settle(first[0]!); // a@0
    const next = takeAll(tracker);
    expect(offsets(next)).to.deep.equal([1]);
    tracker.settle(next[0]!);
    expect(offsets(takeAll(tracker))).to.deep.equal([3]);
  });

  it('commits only up to the first unsettled record, with the settled ones after it in the metadata', function () {
    const tracker = new PartitionTracker<TrackedRecord>('t', 0);
    tracker.accept([record(10), record(11), record(12), record(13)], 13);
    expect(tracker.commitPosition()).to.deep.equal({ offset: 10, metadata: '' });
    const [a, b, c, d] = takeAll(tracker);
    tracker.settle(b!);
    tracker.settle(d!);
    const position = tracker.commitPosition()!;
    expect(position.offset).to.equal(10);
    expect([...decodeSettledOffsets(position.metadata)]).to.deep.equal([11, 13]);
    tracker.settle(a!);
    expect(tracker.commitPosition()!.offset).to.equal(12);
    tracker.settle(c!);
    expect(tracker.commitPosition()).to.deep.equal({ offset: 14, metadata: '' });
  });

  it('moves the commit past transaction markers at the end of a batch', function () {
    const tracker = new PartitionTracker<TrackedRecord>('t', 0);
    tracker.accept([record(0)], 1);
    tracker.settle(tracker.take(0)!);
    expect(tracker.commitPosition()!.offset).to.equal(2);
    expect(tracker.nextOffset).to.equal(2);
  });

  it('ignores records it already has (overlapping fetches)', function () {
    const tracker = new PartitionTracker<TrackedRecord>('t', 0);
    expect(tracker.accept([record(0), record(1)], 1)).to.equal(2);
    expect(tracker.accept([record(1), record(2)], 2)).to.equal(1);
    expect(offsets(takeAll(tracker))).to.deep.equal([0, 1, 2]);
  });

  it('skips what a previous owner settled, and commits past it', function () {
    const tracker = new PartitionTracker<TrackedRecord>('t', 0);
    tracker.skipSettled(new Set([1, 3]));
    tracker.accept([record(0), record(1), record(2), record(3)], 3);
    const taken = takeAll(tracker);
    expect(offsets(taken)).to.deep.equal([0, 2]);
    taken.forEach((entry) => tracker.settle(entry));
    expect(tracker.commitPosition()!.offset).to.equal(4);
  });

  it('holds a retried record until it is due, and its key with it', function () {
    const tracker = new PartitionTracker<TrackedRecord>('t', 0);
    tracker.accept([record(0, 'a', 1_000), record(1, 'a'), record(2, 'b'), record(3, undefined, 500)], 3);
    expect(offsets(takeAll(tracker, 0))).to.deep.equal([2]);
    expect(tracker.nextDueAt()).to.equal(500);
    expect(offsets(takeAll(tracker, 500))).to.deep.equal([3]);
    expect(tracker.nextDueAt()).to.equal(1_000);
    const due = takeAll(tracker, 1_000);
    expect(offsets(due)).to.deep.equal([0]);
    tracker.settle(due[0]!);
    expect(offsets(takeAll(tracker, 1_000))).to.deep.equal([1]);
  });

  it('hands a released record out again when due, holding its key and the commit position meanwhile', function () {
    const tracker = new PartitionTracker<TrackedRecord>('t', 0);
    tracker.accept([record(0, 'a'), record(1, 'a'), record(2, 'b')], 2);
    const [a0, b2] = takeAll(tracker, 0);
    expect(offsets([a0!, b2!])).to.deep.equal([0, 2]);
    expect(tracker.release(a0!, 1_000)).to.equal(true);
    expect(tracker.inFlight).to.equal(1);
    expect(tracker.nextDueAt()).to.equal(1_000);
    tracker.settle(b2!);
    expect(takeAll(tracker, 999), 'a@1 waits behind a@0').to.deep.equal([]);
    expect(tracker.commitPosition()!.offset).to.equal(0);
    const again = takeAll(tracker, 1_000);
    expect(offsets(again)).to.deep.equal([0]);
    expect(again[0]).to.equal(a0);
    expect(tracker.release(b2!, 0), 'a settled record is not released').to.equal(false);
    tracker.settle(again[0]!);
    expect(offsets(takeAll(tracker, 1_000))).to.deep.equal([1]);
  });

  it('forgets everything when discarded: nothing handed out, nothing to commit', function () {
    const tracker = new PartitionTracker<TrackedRecord>('t', 0);
    tracker.accept([record(0), record(1)], 1);
    const entry = tracker.take(0)!;
    tracker.discard();
    expect(tracker.take(0)).to.equal(undefined);
    expect(tracker.commitPosition()).to.equal(undefined);
    expect(tracker.settle(entry)).to.equal(true);
    expect(tracker.accept([record(2)], 2)).to.equal(0);
  });

  it('keeps up with a long stream (compaction keeps order)', function () {
    const tracker = new PartitionTracker<TrackedRecord>('t', 0);
    let next = 0;
    for (let batch = 0; batch < 50; batch++) {
      const records = Array.from({ length: 100 }, (_, i) => record(batch * 100 + i, `k${i % 7}`));
      tracker.accept(records, batch * 100 + 99);
      for (let entry = tracker.take(0); entry !== undefined; entry = tracker.take(0)) {
        tracker.settle(entry);
      }
      const position = tracker.commitPosition()!;
      next = position.offset;
    }
    expect(next).to.equal(5_000);
    expect(tracker.bufferedBytes).to.equal(0);
  });
});
