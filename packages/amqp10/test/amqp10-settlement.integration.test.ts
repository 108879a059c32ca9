import { expect } from 'chai';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Connection, EventContext, Message } from 'rhea';
import type { Envelope } from '@omnibus/core';
import type { Delivery } from '@omnibus/core/transport';
import { Header, readFailure, uuidv7 } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { Amqp10Transport } from '../src/index.js';
import type { QueueView } from './artemis-management.js';
import { ArtemisManagement } from './artemis-management.js';
import { probeBroker, rawConnection, url } from './broker.js';

const fixture = fileURLToPath(new URL('./fixtures/dead-letter-then-die.js', import.meta.url));

function envelope(): Envelope {
  const id = uuidv7();
  return { id, type: 'amqp10.Settled', headers: { [Header.specVersion]: '1.0' }, body: Buffer.from('{}') };
}

/** Reads `address` with a plain rhea receiver, accepting each message, until `count` have arrived. */
async function readRaw(connection: Connection, address: string, count: number): Promise<Message[]> {
  const messages: Message[] = [];
  const receiver = connection.open_receiver({
    source: { address, capabilities: ['queue'] },
    autoaccept: false,
    credit_window: 10,
  });
  receiver.on('message', (context: EventContext) => {
    messages.push(context.message!);
    context.delivery?.accept();
  });
  await waitFor(() => messages.length >= count, { message: `${count} message(s) on ${address}` });
  receiver.close();
  return messages;
}

/**
 * How the consumer settles, as Artemis records it (its management counters, read over AMQP): accepted on
 * success; a retry is a copy the broker schedules, then the original accepted; a dead letter is a copy in
 * our dead-letter queue first, then the original accepted. Never `rejected`: Artemis would move a rejected
 * message to its own dead-letter address, without our reason.
 */
describeIntegration('amqp10 settlement (ActiveMQ Artemis)', probeBroker, () => {
  let management: ArtemisManagement;
  let transport: Amqp10Transport;
  let raw: Connection;
  const closeAfter: { close(): Promise<unknown> }[] = [];

  before(async function () {
    management = await ArtemisManagement.open();
  });

  after(function () {
    management?.close();
  });

  beforeEach(async function () {
    transport = new Amqp10Transport({ url });
    await transport.connect();
    raw = await rawConnection();
  });

  afterEach(async function () {
    for (const closable of closeAfter.splice(0).reverse()) await closable.close().catch(() => undefined);
    await transport.close();
    raw.close();
  });

  async function commandQueue(): Promise<string> {
    const queue = uniqueName('q');
    await transport.provision({ queues: [{ name: queue }] });
    return queue;
  }

  async function consume(queue: string, sink: (d: Delivery) => Promise<void>): Promise<void> {
    closeAfter.push(await transport.consume({ kind: 'queue', queue }, sink, { concurrency: 4 }));
  }

  const view = (queue: string): Promise<QueueView> => management.queue(`${queue}.queue`);

  async function settledTo(queue: string, expected: Partial<QueueView>): Promise<void> {
    let last: QueueView | undefined;
    await waitFor(
      async () => {
        last = await view(queue);
        return Object.entries(expected).every(([name, value]) => last![name as keyof QueueView] === value);
      },
      { message: `the broker's counters of ${queue} to reach ${JSON.stringify(expected)}` },
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; last seen ${JSON.stringify(last)}`);
    });
  }

  it('accepts a handled message: acknowledged once, nothing killed, nothing left', async function () {
    const queue = await commandQueue();
    await consume(queue, (d) => d.ack());
    await transport.publish({ kind: 'queue', queue }, [envelope()]);
    await settledTo(queue, { messagesAcknowledged: 1, messageCount: 0 });
    expect(await view(queue)).to.deep.equal({
      messageCount: 0,
      messagesAdded: 1,
      messagesAcknowledged: 1,
      messagesKilled: 0,
      scheduledCount: 0,
    });
  });

  it('retries with a copy the broker holds until its delay, then accepts the original', async function () {
    const queue = await commandQueue();
    const seen: { attempt: number; at: number }[] = [];
    await consume(queue, async (d) => {
      seen.push({ attempt: d.attempt, at: Date.now() });
      if (d.attempt === 1) await d.retry(2_000);
      else await d.ack();
    });
    await transport.publish({ kind: 'queue', queue }, [envelope()]);
    // While the delay runs: the original is accepted and the copy waits on the broker, scheduled.
    await settledTo(queue, { messagesAcknowledged: 1, scheduledCount: 1, messageCount: 1 });
    expect(seen.map((s) => s.attempt)).to.deep.equal([1]);
    await waitFor(() => seen.length === 2, { message: 'the retry copy' });
    expect(seen[1]!.attempt).to.equal(2);
    expect(seen[1]!.at - seen[0]!.at).to.be.at.least(2_000);
    await settledTo(queue, { messagesAcknowledged: 2, messageCount: 0 });
    expect(await view(queue)).to.include({ messagesAdded: 2, messagesKilled: 0, scheduledCount: 0 });
  });

  it('dead-letters by writing our copy first, then accepting; Artemis kills nothing (a rejection would)', async function () {
    const queue = await commandQueue();
    const sent = envelope();
    await consume(queue, (d) =>
      d.deadLetter({ message: 'poison', code: 'HANDLER_ERROR', attempts: 3, failedAt: new Date() }),
    );
    await transport.publish({ kind: 'queue', queue }, [sent]);
    await settledTo(queue, { messagesAcknowledged: 1, messageCount: 0 });
    expect(await view(queue)).to.include({ messagesKilled: 0 });
    const [copy] = await readRaw(raw, `${queue}.queue.dlq`, 1);
    expect(copy!.message_id).to.equal(sent.id);
    expect(copy!.application_properties).to.include({
      'omnibus-error-code': 'HANDLER_ERROR',
      'omnibus-error-message': 'poison',
    });

    // What `rejected` does on this broker, by a plain rhea receiver: moved to Artemis's DLQ, counted killed.
    const other = await commandQueue();
    await transport.publish({ kind: 'queue', queue: other }, [envelope()]);
    const receiver = raw.open_receiver({
      source: { address: `${other}.queue`, capabilities: ['queue'] },
      autoaccept: false,
    });
    receiver.on('message', (context: EventContext) => context.delivery?.reject({ condition: 'test:reject' }));
    await settledTo(other, { messagesKilled: 1, messageCount: 0 });
    receiver.close();
  });

  it('gives back what it holds at close as modified (delivery failed): redelivered at once, counted', async function () {
    const queue = await commandQueue();
    const sent = envelope();
    const held: Delivery[] = [];
    const consumer = await transport.consume(
      { kind: 'queue', queue },
      async (d) => {
        held.push(d); // never settled
      },
      { concurrency: 1 },
    );
    await transport.publish({ kind: 'queue', queue }, [sent]);
    await waitFor(() => held.length === 1, { message: 'the delivery' });
    await consumer.close();
    const [again] = await readRaw(raw, `${queue}.queue`, 1);
    expect(again!.message_id).to.equal(sent.id);
    // `modified` with delivery-failed raises the count (`released` would not); nothing was killed.
    expect(again!.delivery_count).to.equal(1);
    await settledTo(queue, { messagesKilled: 0, messageCount: 0 });
  });

  it('loses nothing when the process dies after writing the dead-letter copy and before settling', async function () {
    this.timeout(60_000);
    const queue = await commandQueue();
    const sent = envelope();
    await transport.publish({ kind: 'queue', queue }, [sent]);
    const child = fork(fixture, [queue], { stdio: 'inherit' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    expect(await exited).to.equal('SIGKILL');
    // The copy was written; the original, never settled, is the broker's again.
    expect((await management.queue(`${queue}.queue.dlq`)).messageCount).to.equal(1);
    await settledTo(queue, { messageCount: 1, messagesAcknowledged: 0 });
    // The next consumer gets the original and dead-letters it again: a duplicate dead letter, never a lost one.
    const redelivered: Envelope[] = [];
    await consume(queue, async (d) => {
      redelivered.push(d.envelope);
      await d.deadLetter({ message: 'poison', code: 'HANDLER_ERROR', attempts: 1, failedAt: new Date() });
    });
    await settledTo(queue, { messageCount: 0, messagesAcknowledged: 1 });
    expect(redelivered.map((e) => e.id)).to.deep.equal([sent.id]);
    const copies = await readRaw(raw, `${queue}.queue.dlq`, 2);
    expect(copies.map((m) => m.message_id)).to.deep.equal([sent.id, sent.id]);
    expect(copies.map((m) => readFailure(envelopeOf(m))?.code)).to.deep.equal([
      'HANDLER_ERROR',
      'HANDLER_ERROR',
    ]);
  });
});

/** Enough of an envelope for `readFailure`: the failure headers are application properties. */
function envelopeOf(message: Message): Envelope {
  const headers = Object.fromEntries(
    Object.entries((message.application_properties ?? {}) as Record<string, unknown>).map(([k, v]) => [
      k,
      String(v),
    ]),
  );
  return { id: String(message.message_id), type: '', headers, body: Buffer.alloc(0) };
}
