import { expect } from 'chai';
import { renderProgress, replayProgress } from '../src/dead-letters/replay-progress.js';

describe('replay progress', function () {
  it('renders a bar with count, total, rate and ETA', function () {
    expect(renderProgress({ done: 12, total: 48, elapsedMs: 3_000 })).to.equal(
      '[######------------------] 12/48  4.0/s  ETA 9s',
    );
    expect(renderProgress({ done: 48, total: 48, elapsedMs: 4_000 })).to.equal(
      `[${'#'.repeat(24)}] 48/48  12.0/s  ETA 0s`,
    );
    expect(renderProgress({ done: 10, total: 5_000, elapsedMs: 10_000 })).to.match(
      / 10\/5000 {2}1\.0\/s {2}ETA 1h23m$/,
    );
    expect(renderProgress({ done: 0, total: 3, elapsedMs: 0 })).to.match(/ 0\/3 {2}0\.0\/s {2}ETA \?$/);
    expect(renderProgress({ done: 7, total: undefined, elapsedMs: 2_000 })).to.equal('7 replayed  3.5/s');
  });

  it('redraws in place on a terminal, prints a plain line every N off one, and nothing with --json', function () {
    let clock = 0;
    const run = (tty: boolean, json: boolean): string => {
      let out = '';
      clock = 0;
      const progress = replayProgress(
        { tty, json, every: 2, write: (text) => (out += text), now: () => clock },
        4,
      );
      for (let done = 1; done <= 4; done++) {
        clock += 500;
        progress.replayed(done);
      }
      progress.finish();
      return out;
    };
    expect(run(false, false)).to.equal(
      '[############------------] 2/4  2.0/s  ETA 1s\n[########################] 4/4  2.0/s  ETA 0s\n',
    );
    const terminal = run(true, false);
    expect(terminal.split('\r')).to.have.length(5);
    expect(terminal).to.contain('\r[######------------------] 1/4  2.0/s  ETA 2s\x1b[K').and.match(/\n$/);
    expect(run(true, true)).to.equal('');
    expect(run(false, true)).to.equal('');
  });
});
