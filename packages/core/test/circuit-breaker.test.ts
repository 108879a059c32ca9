import { expect } from 'chai';
import type { HandlingContext } from '../src/index.js';
import { CircuitBreaker, CircuitOpenError, ConcurrencyError, ConfigurationError } from '../src/index.js';
import type { Consumer } from '../src/transport/index.js';

describe('CircuitBreaker', function () {
  function fakeClock() {
    let now = 0;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  }
  function consumer() {
    const calls: string[] = [];
    const c: Consumer = {
      source: { kind: 'queue', queue: 'q' },
      pause: () => calls.push('pause'),
      resume: () => calls.push('resume'),
      close: async () => undefined,
    };
    return { c, calls };
  }
  const ctx = {} as HandlingContext;
  const fail = () => Promise.reject(new Error('down'));
  const ok = () => Promise.resolve();

  it('opens after N consecutive failures, pauses the consumer, fails fast, and closes after a good probe', async function () {
    const clock = fakeClock();
    const states: string[] = [];
    const breaker = new CircuitBreaker({
      failureThreshold: 3,
      cooldownMs: 1_000,
      clock,
      onStateChange: (s) => states.push(s),
    });
    const { c, calls } = consumer();
    breaker.attach(c);
    await breaker.middleware(ctx, ok);
    for (let i = 0; i < 3; i++) await breaker.middleware(ctx, fail).catch(() => undefined);
    expect(breaker.state).to.equal('open');
    expect(calls).to.deep.equal(['pause']);
    let ran = false;
    const error = await breaker.middleware(ctx, async () => void (ran = true)).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(CircuitOpenError);
    expect(ran).to.equal(false);
    clock.advance(1_000);
    await breaker.middleware(ctx, ok);
    expect(breaker.state).to.equal('closed');
    expect(states).to.deep.equal(['open', 'half-open', 'closed']);
    breaker.dispose();
  });

  it('lets one probe through when half-open and reopens when it fails', async function () {
    const clock = fakeClock();
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 10, clock });
    await breaker.middleware(ctx, fail).catch(() => undefined);
    clock.advance(10);
    let release!: () => void;
    const probe = breaker.middleware(
      ctx,
      () => new Promise<void>((_, reject) => (release = () => reject(new Error('still down')))),
    );
    const second = await breaker.middleware(ctx, ok).catch((e: unknown) => e);
    expect(second).to.be.instanceOf(CircuitOpenError);
    release();
    await probe.catch(() => undefined);
    expect(breaker.state).to.equal('open');
    breaker.dispose();
  });

  it('counts only consecutive failures', async function () {
    const breaker = new CircuitBreaker({ failureThreshold: 2 });
    await breaker.middleware(ctx, fail).catch(() => undefined);
    await breaker.middleware(ctx, ok);
    await breaker.middleware(ctx, fail).catch(() => undefined);
    expect(breaker.state).to.equal('closed');
    breaker.dispose();
  });

  it('does not count optimistic-concurrency conflicts as failures, nor as a probe that passed', async function () {
    const clock = fakeClock();
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 10, clock });
    const { c, calls } = consumer();
    breaker.attach(c);
    const conflict = () => Promise.reject(new ConcurrencyError('version 3 was saved by another step'));
    for (let i = 0; i < 5; i++) {
      const error = await breaker.middleware(ctx, conflict).catch((e: unknown) => e);
      expect(error, 'the conflict goes on to the bus').to.be.instanceOf(ConcurrencyError);
    }
    expect(breaker.state).to.equal('closed');
    expect(calls).to.deep.equal([]);
    await breaker.middleware(ctx, fail).catch(() => undefined);
    await breaker.middleware(ctx, conflict).catch(() => undefined);
    await breaker.middleware(ctx, fail).catch(() => undefined);
    expect(breaker.state, 'a conflict between two failures does not reset the count').to.equal('open');
    clock.advance(10);
    await breaker.middleware(ctx, conflict).catch(() => undefined);
    expect(breaker.state, 'a conflicting probe decides nothing').to.equal('half-open');
    await breaker.middleware(ctx, ok);
    expect(breaker.state).to.equal('closed');
    breaker.dispose();
  });

  it('validates its options', function () {
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).to.throw(
      ConfigurationError,
      /failureThreshold/,
    );
    expect(() => new CircuitBreaker({ cooldownMs: -1 })).to.throw(ConfigurationError, /cooldownMs/);
  });
});
