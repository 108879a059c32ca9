import { expect } from 'chai';
import type { Envelope } from '@omnibus/core';
import { TransportError, uuidv7 } from '@omnibus/core';
import type { BatchEntry, BatchSender, EntryFailure, PublishTarget } from '../src/batch-sender.js';
import { DeadLetterReads } from '../src/fifo-ids.js';
import { ENTRY_ATTEMPTS, Publisher } from '../src/publisher.js';

/**
 * The publisher's batching and per-entry retry rules, against a scripted BatchSender (the seam behind
 * which the SDK calls live): a real broker cannot be made to fail single entries of a batch on demand.
 * The SDK side is covered by the integration tests against moto.
 */
class ScriptedSender implements BatchSender {
  readonly calls: BatchEntry[][] = [];
  constructor(private readonly fail: (entry: BatchEntry, call: number) => EntryFailure | undefined) {}
  async send(_target: PublishTarget, entries: readonly BatchEntry[]): Promise<EntryFailure[]> {
    this.calls.push([...entries]);
    const call = this.calls.length;
    return entries.flatMap((entry) => this.fail(entry, call) ?? []);
  }
}

const idOf = (entry: BatchEntry): string => entry.attributes['ce-id']!.StringValue!;

const queue: PublishTarget = { kind: 'queue', name: 'q', url: 'http://q', fifo: false };
const fifo: PublishTarget = { kind: 'queue', name: 'q.fifo', url: 'http://q.fifo', fifo: true };

function envelopes(count: number, body = '{}'): Envelope[] {
  return Array.from({ length: count }, () => ({
    id: uuidv7(),
    type: 't',
    headers: {},
    body: Buffer.from(body),
  }));
}

describe('Publisher', function () {
  it('sends batches of at most 10 entries and 256 KiB', async function () {
    const sender = new ScriptedSender(() => undefined);
    await new Publisher(sender, new DeadLetterReads()).publish(queue, envelopes(25));
    expect(sender.calls.map((c) => c.length).sort()).to.deep.equal([10, 10, 5]);
    const big = new ScriptedSender(() => undefined);
    await new Publisher(big, new DeadLetterReads()).publish(queue, envelopes(5, 'x'.repeat(100_000)));
    expect(big.calls.map((c) => c.length)).to.deep.equal([2, 2, 1]);
  });

  it('sends the entries a batch reports as failed again, and only those, until accepted', async function () {
    const sent = envelopes(10);
    const flaky = new Set([sent[3]!.id, sent[7]!.id]);
    const sender = new ScriptedSender((entry, call) =>
      call <= 2 && flaky.has(idOf(entry))
        ? { id: entry.id, code: 'InternalError', message: 'try again', senderFault: false }
        : undefined,
    );
    await new Publisher(sender, new DeadLetterReads()).publish(queue, sent);
    expect(sender.calls.map((c) => c.map(idOf))).to.deep.equal([
      sent.map((e) => e.id),
      [sent[3]!.id, sent[7]!.id],
      [sent[3]!.id, sent[7]!.id],
    ]);
  });

  it('gathers concurrent one-message publishes into full batches', async function () {
    const sender = new ScriptedSender(() => undefined);
    const publisher = new Publisher(sender, new DeadLetterReads());
    await Promise.all(envelopes(45).map((e) => publisher.publish(queue, [e])));
    expect(sender.calls.map((c) => c.length)).to.deep.equal([10, 10, 10, 10, 5]);
  });

  it('fails only the calls whose entries failed', async function () {
    const sent = envelopes(3);
    const sender = new ScriptedSender((entry) =>
      idOf(entry) === sent[1]!.id
        ? { id: entry.id, code: 'Invalid', message: 'no', senderFault: true }
        : undefined,
    );
    const publisher = new Publisher(sender, new DeadLetterReads());
    const results = await Promise.allSettled(sent.map((e) => publisher.publish(queue, [e])));
    expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('keeps a FIFO entry’s deduplication id on its retry, so the broker stores it once', async function () {
    const sender = new ScriptedSender((entry, call) =>
      call === 1 && entry.id === '0'
        ? { id: '0', code: 'Throttled', message: '', senderFault: false }
        : undefined,
    );
    const [sent] = envelopes(1);
    await new Publisher(sender, new DeadLetterReads()).publish(fifo, [{ ...sent!, key: 'k' }]);
    expect(sender.calls).to.have.length(2);
    expect(sender.calls[1]![0]!.deduplicationId).to.equal(sent!.id);
    expect(sender.calls[1]![0]!.groupId).to.equal('k');
  });

  it('rejects, never reporting failed entries as sent, when retries run out', async function () {
    const sent = envelopes(3);
    const sender = new ScriptedSender((entry) =>
      idOf(entry) === sent[1]!.id
        ? { id: entry.id, code: 'InternalError', message: 'down', senderFault: false }
        : undefined,
    );
    const error = await new Publisher(sender, new DeadLetterReads()).publish(queue, sent).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(TransportError);
    expect(error).to.include({ code: 'PUBLISH_FAILED', retriable: true });
    expect((error as Error).message).to.include(sent[1]!.id);
    expect(sender.calls).to.have.length(ENTRY_ATTEMPTS);
  });

  it('rejects at once, as non-retriable, when the broker calls an entry invalid', async function () {
    const sender = new ScriptedSender((entry) =>
      entry.id === '0'
        ? { id: '0', code: 'InvalidParameterValue', message: 'bad', senderFault: true }
        : undefined,
    );
    const error = await new Publisher(sender, new DeadLetterReads()).publish(queue, envelopes(2)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.include({ code: 'PUBLISH_FAILED', retriable: false });
    expect(sender.calls).to.have.length(1);
  });

  it('sends nothing when one message is over the limit', async function () {
    const sender = new ScriptedSender(() => undefined);
    const error = await new Publisher(sender, new DeadLetterReads())
      .publish(queue, [...envelopes(2), ...envelopes(1, 'x'.repeat(262_144))])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).to.include({ code: 'MESSAGE_TOO_LARGE', retriable: false });
    expect(sender.calls).to.have.length(0);
  });

  it('sends FIFO batches one after another, in order', async function () {
    let inFlight = 0;
    let most = 0;
    const order: string[] = [];
    const sent = envelopes(35);
    const sender: BatchSender = {
      async send(_target, entries) {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        order.push(...entries.map(idOf));
        inFlight--;
        return [];
      },
    };
    const publisher = new Publisher(sender, new DeadLetterReads());
    await Promise.all([publisher.publish(fifo, sent.slice(0, 20)), publisher.publish(fifo, sent.slice(20))]);
    expect(most).to.equal(1);
    expect(order).to.deep.equal(sent.map((e) => e.id));
  });
});
