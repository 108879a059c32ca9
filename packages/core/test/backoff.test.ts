import { expect } from 'chai';
import {
  ConfigurationError,
  constant,
  exponential,
  retry,
  TransportError,
  NonRetriableError,
} from '../src/index.js';

describe('backoff', function () {
  it('grows exponentially up to the cap without jitter', function () {
    const backoff = exponential({ initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 'none' });
    expect([1, 2, 3, 4, 5, 6].map(backoff)).to.deep.equal([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('spreads delays uniformly below the ceiling with full jitter', function () {
    const randoms = [0, 0.5, 0.999];
    const backoff = exponential({
      initialMs: 100,
      multiplier: 3,
      maxMs: 10_000,
      random: () => randoms.shift()!,
    });
    expect(backoff(1)).to.equal(0);
    expect(backoff(2)).to.equal(150);
    expect(backoff(3)).to.equal(899);
  });

  it('validates its options', function () {
    expect(() => exponential({ initialMs: -1 })).to.throw(ConfigurationError, /initialMs/);
    expect(() => exponential({ multiplier: 0.5 })).to.throw(ConfigurationError, /multiplier/);
    expect(() => exponential({ initialMs: 10, maxMs: 5 })).to.throw(ConfigurationError, /maxMs/);
    expect(() => constant(-5)).to.throw(ConfigurationError);
  });
});

describe('retry', function () {
  it('retries retriable errors until success', async function () {
    const delays: number[] = [];
    let calls = 0;
    const result = await retry(
      async () => {
        if (++calls < 3) throw new TransportError('connection reset');
        return 'ok';
      },
      { attempts: 5, backoff: constant(1), onRetry: (_e, _a, delay) => delays.push(delay) },
    );
    expect(result).to.equal('ok');
    expect(delays).to.deep.equal([1, 1]);
  });

  it('gives up at once on a non-retriable error, and after the last attempt', async function () {
    let calls = 0;
    const fatal = await retry(
      async () => {
        calls++;
        throw new NonRetriableError('bad request');
      },
      { backoff: constant(0) },
    ).catch((e: unknown) => e);
    expect(fatal).to.be.instanceOf(NonRetriableError);
    expect(calls).to.equal(1);
    calls = 0;
    const exhausted = await retry(
      async () => {
        calls++;
        throw new TransportError('down');
      },
      { attempts: 3, backoff: constant(0) },
    ).catch((e: unknown) => e);
    expect(exhausted).to.be.instanceOf(TransportError);
    expect(calls).to.equal(3);
  });
});
