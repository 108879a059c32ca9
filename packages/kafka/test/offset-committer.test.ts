import { expect } from 'chai';
import type { OffsetCommit } from '../src/kafka-client.js';
import { OffsetCommitter } from '../src/offset-committer.js';
import type { TrackedRecord } from '../src/partition-tracker.js';
import { PartitionTracker } from '../src/partition-tracker.js';
import { decodeSettledOffsets } from '../src/settled-offsets.js';

const record = (offset: number): TrackedRecord => ({ offset, key: undefined, dueAt: undefined, bytes: 1 });

describe('OffsetCommitter', function () {
  function setup(fail: () => boolean = () => false) {
    const tracker = new PartitionTracker<TrackedRecord>('t', 0);
    const commits: OffsetCommit[][] = [];
    const errors: unknown[] = [];
    const committer = new OffsetCommitter(
      () => [['t:0', tracker]],
      async (offsets) => {
        if (fail()) throw new Error('rebalance in progress');
        commits.push(offsets);
      },
      (error) => errors.push(error),
      5,
    );
    return { tracker, commits, errors, committer };
  }

  it('commits the first unsettled offset with the settled ones after it, only when it moved', async function () {
    const { tracker, commits, committer } = setup();
    tracker.accept([record(0), record(1), record(2)], 2);
    const [a, b, c] = [tracker.take(0)!, tracker.take(0)!, tracker.take(0)!];
    tracker.settle(b);
    await committer.flush();
    expect(commits).to.have.length(1);
    expect(commits[0]![0]).to.include({ topic: 't', partition: 0, offset: 0 });
    expect([...decodeSettledOffsets(commits[0]![0]!.metadata)]).to.deep.equal([1]);
    await committer.flush();
    expect(commits, 'nothing moved').to.have.length(1);
    tracker.settle(a);
    tracker.settle(c);
    await committer.flush();
    expect(commits[1]).to.deep.equal([{ topic: 't', partition: 0, offset: 3, metadata: null }]);
  });

  it('commits on schedule, and again after a failed commit', async function () {
    let failing = true;
    const { tracker, commits, errors, committer } = setup(() => failing);
    tracker.accept([record(7)], 7);
    tracker.settle(tracker.take(0)!);
    committer.schedule();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errors).to.have.length.of.at.least(1);
    failing = false;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(commits).to.deep.equal([[{ topic: 't', partition: 0, offset: 8, metadata: null }]]);
    committer.stop();
  });

  it('schedules nothing once stopped, but still flushes', async function () {
    const { tracker, commits, committer } = setup();
    committer.stop();
    tracker.accept([record(0)], 0);
    tracker.settle(tracker.take(0)!);
    committer.schedule();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(commits).to.have.length(0);
    await committer.flush();
    expect(commits).to.have.length(1);
  });
});
