import { expect } from 'chai';
import type { OutgoingRecord } from '../src/kafka-codec.js';
import type { TopicRecords } from '../src/produce-queue.js';
import { ProduceQueue } from '../src/produce-queue.js';

const message = (value: string): OutgoingRecord => ({ key: null, value: Buffer.from(value), headers: {} });
const turn = () => new Promise((resolve) => setImmediate(resolve));
const values = (batch: TopicRecords[]) =>
  batch.map((t) => `${t.topic}:${t.messages.map((m) => String(m.value)).join(',')}`);

describe('ProduceQueue', function () {
  it('sends what was called in one turn together, and batches the calls made while a send is in flight', async function () {
    const sent: string[][] = [];
    let finish!: () => void;
    const queue = new ProduceQueue((batch) => {
      sent.push(values(batch));
      return sent.length === 1 ? new Promise<void>((resolve) => (finish = resolve)) : Promise.resolve();
    }, 1_000_000);
    const first = queue.enqueue('a', [message('1')]);
    const zero = queue.enqueue('a', [message('0')]);
    await turn();
    const second = queue.enqueue('a', [message('2'), message('3')]);
    const third = queue.enqueue('b', [message('4')]);
    const fourth = queue.enqueue('a', [message('5')]);
    await turn();
    expect(sent).to.deep.equal([['a:1,0']]);
    finish();
    await Promise.all([first, zero, second, third, fourth]);
    expect(sent).to.deep.equal([['a:1,0'], ['a:2,3,5', 'b:4']]);
  });

  it('splits a large call into sends under the byte limit, in order', async function () {
    const sent: string[][] = [];
    const queue = new ProduceQueue(async (batch) => void sent.push(values(batch)), 250);
    await queue.enqueue(
      't',
      ['a', 'b', 'c', 'd', 'e'].map((v) => message(v.repeat(40))),
    );
    expect(sent.map((batch) => batch[0]!.split(',').length)).to.deep.equal([2, 2, 1]);
    expect(sent.flat().join(',')).to.equal(
      `t:${'a'.repeat(40)},${'b'.repeat(40)},t:${'c'.repeat(40)},${'d'.repeat(40)},t:${'e'.repeat(40)}`,
    );
  });

  it('rejects every call of a failed send and goes on with the next', async function () {
    let calls = 0;
    let finish!: (error?: Error) => void;
    const queue = new ProduceQueue(
      (_batch) =>
        ++calls === 1
          ? new Promise<void>((resolve, reject) => (finish = (e) => (e ? reject(e) : resolve())))
          : calls === 2
            ? Promise.reject(new Error('broker gone'))
            : Promise.resolve(),
      1_000_000,
    );
    const first = queue.enqueue('t', [message('1')]);
    await turn();
    const second = queue.enqueue('t', [message('2')]);
    const third = queue.enqueue('t', [message('3')]);
    finish();
    await first;
    const results = await Promise.allSettled([second, third]);
    expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'rejected']);
    await queue.enqueue('t', [message('4')]);
    expect(calls).to.equal(3);
  });
});
