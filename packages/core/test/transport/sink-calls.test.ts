import { expect } from 'chai';
import { DONE, SinkCalls, type Delivery, type DeliverySink } from '../../src/transport/index.js';

const delivery = {} as Delivery;

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('SinkCalls', function () {
  it('is idle with DONE itself when no call is running', function () {
    const calls = new SinkCalls();
    expect(calls.size).to.equal(0);
    expect(calls.whenIdle()).to.equal(DONE);
  });

  it('counts calls until their promises settle and resolves whenIdle only at zero', async function () {
    const calls = new SinkCalls();
    const first = deferred();
    const second = deferred();
    const pending = [first, second];
    const sink: DeliverySink = () => pending.shift()!.promise;
    calls.call(sink, delivery);
    calls.call(sink, delivery);
    expect(calls.size).to.equal(2);
    let idle = false;
    const whenIdle = calls.whenIdle().then(() => (idle = true));
    expect(calls.whenIdle()).to.equal(calls.whenIdle());
    first.resolve();
    await first.promise;
    await Promise.resolve();
    expect(calls.size).to.equal(1);
    expect(idle).to.equal(false);
    second.reject(new Error('a raw sink that rejects'));
    await whenIdle;
    expect(idle).to.equal(true);
    expect(calls.size).to.equal(0);
    expect(calls.whenIdle()).to.equal(DONE);
  });

  it('survives a sink that throws synchronously, reports it, and does not count it', function () {
    const errors: unknown[] = [];
    const calls = new SinkCalls((error) => errors.push(error));
    const thrown = new Error('thrown, not rejected');
    const sink: DeliverySink = () => {
      throw thrown;
    };
    expect(() => calls.call(sink, delivery)).not.to.throw();
    expect(calls.size).to.equal(0);
    expect(calls.whenIdle()).to.equal(DONE);
    expect(errors).to.deep.equal([thrown]);
  });

  it('reports a rejected sink call to onSinkError', async function () {
    const errors: unknown[] = [];
    const calls = new SinkCalls((error) => errors.push(error));
    const rejected = new Error('rejected');
    calls.call(() => Promise.reject(rejected), delivery);
    await calls.whenIdle();
    expect(errors).to.deep.equal([rejected]);
  });

  it('hands the delivery to the sink', function () {
    const calls = new SinkCalls();
    const seen: Delivery[] = [];
    calls.call((d) => (seen.push(d), DONE), delivery);
    expect(seen).to.deep.equal([delivery]);
  });

  it('runs onReturned after each call ends, with the count already lowered', async function () {
    const sizes: number[] = [];
    const calls: SinkCalls = new SinkCalls(undefined, () => sizes.push(calls.size));
    const first = deferred();
    calls.call(() => first.promise, delivery);
    calls.call(() => {
      throw new Error('thrown');
    }, delivery);
    calls.call(() => Promise.reject(new Error('rejected')), delivery);
    expect(sizes).to.deep.equal([1]);
    first.resolve();
    await calls.whenIdle();
    await Promise.resolve();
    expect(sizes).to.deep.equal([1, 1, 0]);
  });
});
