import 'reflect-metadata';
import { expect } from 'chai';
import { Container, inject, injectable } from 'inversify';
import type { Envelope, MessageContext, Source } from '../src/index.js';
import {
  Bus,
  BusNotStartedError,
  ConcurrencyError,
  ConfigurationError,
  Handle,
  Header,
  MemoryTransport,
  NonRetriableError,
  SchemaError,
  Subscriber,
  constant,
  defineCommand,
  createBus,
  omnibusModule,
  readFailure,
  replayDeadLetters,
} from '../src/index.js';
import type { Consumer, ConsumeOptions, DeliverySink } from '../src/transport/index.js';
import { uniqueName, waitFor } from '../src/testing/index.js';
import { contracts, type OrderPlacedV1, type ProcessPaymentV1 } from './fixtures.js';

describe('Bus', function () {
  let transport: MemoryTransport;
  let c: ReturnType<typeof contracts>;
  const buses: Bus[] = [];

  beforeEach(function () {
    transport = new MemoryTransport();
    c = contracts(uniqueName());
  });
  afterEach(async function () {
    await Promise.all(buses.splice(0).map((bus) => bus.stop()));
  });

  function bus(options: Partial<ConstructorParameters<typeof Bus>[0]> = {}): Bus {
    const created = new Bus({
      transport,
      serviceName: 'test',
      closeTransport: false,
      retry: { attempts: 3, backoff: constant(0) },
      ...options,
    });
    buses.push(created);
    return created;
  }

  /** Reads a dead-letter queue without settling, so the dead letters stay put for the test. */
  async function deadLetters(
    of: Parameters<typeof replayDeadLetters>[1],
    count: number,
  ): Promise<Envelope[]> {
    const seen: Envelope[] = [];
    const consumer = await transport.consume(
      { kind: 'deadLetters', of },
      async (d) => {
        seen.push(d.envelope);
      },
      { concurrency: 100 },
    );
    await waitFor(() => seen.length >= count, { message: `${count} dead letters` });
    await consumer.close();
    return seen;
  }

  it('delivers a published event to every subscriber group and a command to its handler', async function () {
    const got: string[] = [];
    @Subscriber({ group: 'billing' })
    class Billing {
      @Handle(c.OrderPlaced)
      placed(e: OrderPlacedV1) {
        got.push(`billing:${e.orderId}`);
      }
    }
    @Subscriber({ group: 'shipping' })
    class Shipping {
      @Handle(c.OrderPlaced)
      placed(e: OrderPlacedV1) {
        got.push(`shipping:${e.orderId}`);
      }
      @Handle(c.ProcessPayment)
      pay(cmd: ProcessPaymentV1) {
        got.push(`pay:${cmd.amount}`);
      }
    }
    const b = bus({ handlers: [Billing, Shipping] });
    await b.start();
    await b.publish(c.OrderPlaced, { orderId: 'o1', total: 10 });
    await b.send(c.ProcessPayment, { orderId: 'o1', amount: 10 });
    await waitFor(() => got.length === 3, { message: 'three handlings' });
    expect(got.sort()).to.deep.equal(['billing:o1', 'pay:10', 'shipping:o1']);
  });

  it('refuses to publish or send before start with BUS_NOT_STARTED, and loses nothing after it', async function () {
    const got: string[] = [];
    @Subscriber({ group: 'billing' })
    class Billing {
      @Handle(c.OrderPlaced)
      placed(e: OrderPlacedV1) {
        got.push(e.orderId);
      }
      @Handle(c.ProcessPayment)
      pay(cmd: ProcessPaymentV1) {
        got.push(`pay:${cmd.orderId}`);
      }
    }
    const b = bus({ handlers: [Billing] });
    for (const early of [
      b.publish(c.OrderPlaced, { orderId: 'early', total: 1 }),
      b.send(c.ProcessPayment, { orderId: 'early', amount: 1 }),
    ]) {
      const error = await early.then(
        () => expect.fail('expected a refusal'),
        (e: unknown) => e,
      );
      expect(error)
        .to.be.instanceOf(BusNotStartedError)
        .and.include({ code: 'BUS_NOT_STARTED', retriable: false });
    }
    await b.start();
    await b.publish(c.OrderPlaced, { orderId: 'o1', total: 1 });
    await b.send(c.ProcessPayment, { orderId: 'o1', amount: 1 });
    await waitFor(() => got.length === 2, { message: 'both messages handled' });
    expect(got.sort()).to.deep.equal(['o1', 'pay:o1']);
  });

  it('writes CloudEvents attributes and inherits correlation and causation', async function () {
    const seen: MessageContext[] = [];
    @Subscriber({ group: 'g' })
    class Handlers {
      @Handle(c.OrderPlaced)
      async placed(e: OrderPlacedV1, ctx: MessageContext) {
        seen.push(ctx);
        await ctx.send(c.ProcessPayment, { orderId: e.orderId, amount: e.total });
      }
      @Handle(c.ProcessPayment)
      pay(_cmd: ProcessPaymentV1, ctx: MessageContext) {
        seen.push(ctx);
      }
    }
    const b = bus({ handlers: [Handlers] });
    await b.start();
    await b.publish(c.OrderPlaced, { orderId: 'o7', total: 5 }, { headers: { tenant: 'acme' } });
    await waitFor(() => seen.length === 2, { message: 'both handlers' });
    const [placed, pay] = seen;
    expect(placed!.headers).to.include({
      specversion: '1.0',
      source: 'test',
      datacontenttype: 'application/json',
      tenant: 'acme',
    });
    expect(placed!.envelope.key).to.equal('o7');
    expect(placed!.correlationId).to.equal(placed!.messageId);
    expect(pay!.correlationId).to.equal(placed!.correlationId);
    expect(pay!.causationId).to.equal(placed!.messageId);
    expect(Date.parse(placed!.headers[Header.time]!)).to.be.closeTo(Date.now(), 10_000);
  });

  it('retries a failing handler with a rising attempt and then succeeds', async function () {
    const attempts: number[] = [];
    @Subscriber({ group: 'g' })
    class Flaky {
      @Handle(c.ProcessPayment)
      pay(_cmd: ProcessPaymentV1, ctx: MessageContext) {
        attempts.push(ctx.attempt);
        if (ctx.attempt < 3) throw new Error('gateway timeout');
      }
    }
    const b = bus({ handlers: [Flaky] });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o', amount: 1 });
    await waitFor(() => b.stats.handled === 1, { message: 'success on the third attempt' });
    expect(attempts).to.deep.equal([1, 2, 3]);
    expect(b.stats.retried).to.equal(2);
  });

  it('retries immediately inside one delivery before redelivering', async function () {
    let calls = 0;
    const attempts: number[] = [];
    @Subscriber({ group: 'g' })
    class Flaky {
      // attempts counts handler calls: three, all in the first delivery.
      @Handle(c.ProcessPayment, { retry: { immediate: 2, attempts: 3 } })
      pay(_cmd: ProcessPaymentV1, ctx: MessageContext) {
        calls++;
        attempts.push(ctx.attempt);
        if (calls < 3) throw new Error('blip');
      }
    }
    const b = bus({ handlers: [Flaky] });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o', amount: 1 });
    await waitFor(() => b.stats.handled === 1, { message: 'success' });
    expect(attempts).to.deep.equal([1, 1, 1]);
    expect(b.stats.retried).to.equal(0);
  });

  it('dead-letters after the last attempt, with the reason, and the replay is handled', async function () {
    let fail = true;
    @Subscriber({ group: 'g' })
    class Failing {
      @Handle(c.ProcessPayment)
      pay() {
        if (fail) throw new Error('card declined by bank');
      }
    }
    const b = bus({ handlers: [Failing] });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o', amount: 1 });
    const source = { kind: 'queue', queue: c.ProcessPayment.queue } as const;
    const [dead] = await deadLetters(source, 1);
    const failure = readFailure(dead!)!;
    expect(failure.message).to.equal('card declined by bank');
    expect(failure.code).to.equal('HANDLER_ERROR');
    expect(failure.attempts).to.equal(3);
    expect(b.stats.deadLettered).to.equal(1);
    fail = false;
    expect(await replayDeadLetters(transport, source, { limit: 1 })).to.equal(1);
    await waitFor(() => b.stats.handled === 1, { message: 'the replayed command handled' });
  });

  it('counts every handler call as a try: attempts 4 with 1 immediate retry is 4 calls in 2 deliveries, and the dead letter says 4', async function () {
    const calls: number[] = [];
    @Subscriber({ group: 'g' })
    class Failing {
      @Handle(c.ProcessPayment, { retry: { attempts: 4, immediate: 1 } })
      pay(_cmd: ProcessPaymentV1, ctx: MessageContext) {
        calls.push(ctx.attempt);
        throw new Error('still failing');
      }
    }
    const b = bus({ handlers: [Failing] });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o', amount: 1 });
    const [dead] = await deadLetters({ kind: 'queue', queue: c.ProcessPayment.queue }, 1);
    expect(calls).to.deep.equal([1, 1, 2, 2]);
    expect(readFailure(dead!)).to.include({ code: 'HANDLER_ERROR', attempts: 4 });
    expect(dead!.headers[Header.errorAttempts]).to.equal('4');
    expect(b.stats).to.include({ retried: 1, deadLettered: 1 });
  });

  it('makes no immediate retry past the attempts: attempts 3 with 2 immediate retries is 3 calls in 1 delivery', async function () {
    let calls = 0;
    @Subscriber({ group: 'g' })
    class Failing {
      @Handle(c.ProcessPayment, { retry: { attempts: 3, immediate: 5 } })
      pay() {
        calls++;
        throw new Error('still failing');
      }
    }
    const b = bus({ handlers: [Failing] });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o', amount: 1 });
    const [dead] = await deadLetters({ kind: 'queue', queue: c.ProcessPayment.queue }, 1);
    expect(calls).to.equal(3);
    expect(readFailure(dead!)).to.include({ attempts: 3 });
    expect(b.stats.retried).to.equal(0);
  });

  it('runs a handling that lost an optimistic-concurrency update again, in the same delivery, spending no try', async function () {
    const attempts: number[] = [];
    @Subscriber({ group: 'g' })
    class Contended {
      @Handle(c.ProcessPayment, { retry: { attempts: 2, backoff: constant(0) } })
      pay(_cmd: ProcessPaymentV1, ctx: MessageContext) {
        attempts.push(ctx.attempt);
        if (attempts.length <= 10) throw new ConcurrencyError('saga moved on');
      }
    }
    const b = bus({ handlers: [Contended], conflictRetry: { backoff: constant(0) } });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o', amount: 1 });
    await waitFor(() => b.stats.handled === 1, { message: 'handled after ten conflicts' });
    expect(attempts).to.deep.equal(Array<number>(11).fill(1), 'eleven runs, all in the first delivery');
    expect(b.stats).to.include({ conflicts: 10, retried: 10, deadLettered: 0 });
  });

  it('dead-letters a livelock past conflictRetry.maxRetries, saying so', async function () {
    let runs = 0;
    @Subscriber({ group: 'g' })
    class Livelocked {
      @Handle(c.ProcessPayment)
      pay() {
        runs++;
        throw new ConcurrencyError('saga moved on');
      }
    }
    const b = bus({ handlers: [Livelocked], conflictRetry: { maxRetries: 4, backoff: constant(0) } });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o', amount: 1 });
    const [dead] = await deadLetters({ kind: 'queue', queue: c.ProcessPayment.queue }, 1);
    expect(runs).to.equal(5);
    const failure = readFailure(dead!)!;
    expect(failure.code).to.equal('CONCURRENCY_CONFLICT');
    expect(failure.message).to.include('gave up after 5 optimistic-concurrency conflicts');
    expect(b.stats).to.include({ conflicts: 4, retried: 4, deadLettered: 1 });
  });

  it('dead-letters a NonRetriableError at once', async function () {
    @Subscriber({ group: 'g' })
    class Strict {
      @Handle(c.ProcessPayment)
      pay() {
        throw new NonRetriableError('amount must be positive');
      }
    }
    const b = bus({ handlers: [Strict] });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o', amount: -1 });
    const [dead] = await deadLetters({ kind: 'queue', queue: c.ProcessPayment.queue }, 1);
    expect(readFailure(dead!)).to.include({ code: 'NON_RETRIABLE', attempts: 1 });
  });

  it('replays a subscription dead letter to the failed group only, when the replay is sealed', async function () {
    const signing = { keys: { k1: 'a-secret-of-at-least-thirty-two-bytes' }, signWith: 'k1' };
    const handled: string[] = [];
    let failBilling = true;
    @Subscriber({ group: 'billing' })
    class Billing {
      @Handle(c.OrderPlaced, { retry: { attempts: 1 } })
      placed(e: OrderPlacedV1) {
        if (failBilling) throw new Error('ledger down');
        handled.push(`billing:${e.orderId}`);
      }
    }
    @Subscriber({ group: 'shipping' })
    class Shipping {
      @Handle(c.OrderPlaced)
      placed(e: OrderPlacedV1) {
        handled.push(`shipping:${e.orderId}`);
      }
    }
    const b = bus({ handlers: [Billing, Shipping], signing });
    await b.start();
    await b.publish(c.OrderPlaced, { orderId: 'o1', total: 1 });
    const source = { kind: 'subscription', channel: c.OrderPlaced.channel, group: 'billing' } as const;
    await deadLetters(source, 1);
    expect(handled).to.deep.equal(['shipping:o1']);
    failBilling = false;
    await replayDeadLetters(transport, source, { limit: 1, signing });
    await waitFor(() => handled.includes('billing:o1'), { message: 'billing to handle the replay' });
    await waitFor(() => b.stats.notForThisGroup === 1, { message: 'shipping to ignore the replay' });
    expect(handled.filter((h) => h === 'shipping:o1')).to.have.length(1);
  });

  describe('bad input', function () {
    async function started() {
      @Subscriber({ group: 'g' })
      class Handlers {
        @Handle(c.ProcessPayment)
        pay() {}
      }
      const b = bus({ handlers: [Handlers] });
      await b.start();
      return b;
    }
    const queue = () => ({ kind: 'queue', queue: c.ProcessPayment.queue }) as const;
    const raw = (overrides: Partial<Envelope>): Envelope => ({
      id: 'raw-1',
      type: c.ProcessPayment.type,
      headers: { datacontenttype: 'application/json' },
      body: Buffer.from('{}'),
      ...overrides,
    });

    const cases: [string, Partial<Envelope>, string][] = [
      ['undecodable bytes', { body: Buffer.from([0xff, 0x00, 0x7b]) }, 'MALFORMED_BODY'],
      [
        'an unknown content type',
        { headers: { datacontenttype: 'application/x-mystery' } },
        'UNKNOWN_CONTENT_TYPE',
      ],
      ['no content type', { headers: {} }, 'MISSING_CONTENT_TYPE'],
      ['no type', { type: '' }, 'MISSING_HEADER'],
      ['no id', { id: '' }, 'MISSING_HEADER'],
    ];
    for (const [what, overrides, code] of cases) {
      it(`dead-letters ${what} with code ${code}, and keeps consuming`, async function () {
        const b = await started();
        await transport.publish({ kind: 'queue', queue: c.ProcessPayment.queue }, [raw(overrides)]);
        const [dead] = await deadLetters(queue(), 1);
        expect(readFailure(dead!)?.code).to.equal(code);
        await b.send(c.ProcessPayment, { orderId: 'after', amount: 1 });
        await waitFor(() => b.stats.handled === 1, { message: 'the next message handled' });
      });
    }

    it('dead-letters an unknown message type on a command queue, with UNKNOWN_MESSAGE_TYPE', async function () {
      const b = await started();
      await transport.publish({ kind: 'queue', queue: c.ProcessPayment.queue }, [
        raw({ type: 'other.Thing' }),
      ]);
      const [dead] = await deadLetters(queue(), 1);
      expect(dead!.type).to.equal('other.Thing');
      expect(readFailure(dead!)).to.include({ code: 'UNKNOWN_MESSAGE_TYPE', attempts: 1 });
      expect(readFailure(dead!)?.message).to.include('other.Thing');
      expect(b.stats).to.include({ unknownType: 1, deadLettered: 1 });
    });

    it("acks and counts an unknown message type on a subscription: other groups' types pass by", async function () {
      @Subscriber({ group: 'g' })
      class Handlers {
        @Handle(c.OrderPlaced)
        placed() {}
      }
      const b = bus({ handlers: [Handlers] });
      await b.start();
      const subscription = { kind: 'subscription', channel: c.OrderPlaced.channel, group: 'g' } as const;
      await transport.publish({ kind: 'channel', channel: c.OrderPlaced.channel }, [
        raw({ type: 'other.Thing' }),
      ]);
      await waitFor(() => b.stats.unknownType === 1, { message: 'the unknown type counted' });
      expect(b.stats.deadLettered).to.equal(0);
      expect(transport.depth(subscription)).to.equal(0);
      expect(transport.depth({ kind: 'deadLetters', of: subscription })).to.equal(0);
    });

    it('dead-letters a handler that throws a non-Error value, described', async function () {
      @Subscriber({ group: 'g' })
      class Weird {
        @Handle(c.ProcessPayment, { retry: { attempts: 1 } })
        pay() {
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- the case under test
          throw { reason: 'plain object' };
        }
      }
      const b = bus({ handlers: [Weird] });
      await b.start();
      await b.send(c.ProcessPayment, { orderId: 'o', amount: 1 });
      const [dead] = await deadLetters(queue(), 1);
      expect(readFailure(dead!)).to.include({ code: 'NON_ERROR_THROWN' });
      expect(readFailure(dead!)!.message).to.contain('plain object');
    });

    it('awaits a handler that returns a thenable that is not a Promise, and fails when it rejects', async function () {
      const settledBy: string[] = [];
      @Subscriber({ group: 'g' })
      class Lazy {
        @Handle(c.ProcessPayment, { retry: { attempts: 2 } })
        pay(cmd: ProcessPaymentV1): PromiseLike<void> {
          const thenable = {
            then(onFulfilled: () => void, onRejected: (error: Error) => void) {
              setImmediate(() => {
                settledBy.push(cmd.orderId);
                if (cmd.orderId === 'bad') onRejected(new Error('rejected by the thenable'));
                else onFulfilled();
              });
            },
          };
          return thenable as unknown as PromiseLike<void>;
        }
      }
      const b = bus({ handlers: [Lazy] });
      await b.start();
      await b.send(c.ProcessPayment, { orderId: 'good', amount: 1 });
      await b.send(c.ProcessPayment, { orderId: 'bad', amount: 1 });
      const [dead] = await deadLetters(queue(), 1);
      expect(readFailure(dead!)!.message).to.equal('rejected by the thenable');
      expect(b.stats.handled).to.equal(1);
      expect(b.stats.retried).to.equal(1);
      expect(settledBy.filter((id) => id === 'bad')).to.have.length(2);
    });
  });

  it('fails a handler that runs past its timeout and aborts its signal', async function () {
    let aborted = false;
    @Subscriber({ group: 'g' })
    class Slow {
      @Handle(c.ProcessPayment, { timeoutMs: 50, retry: { attempts: 1 } })
      async pay(_cmd: ProcessPaymentV1, ctx: MessageContext) {
        await new Promise<void>((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            resolve();
          }),
        );
      }
    }
    const b = bus({ handlers: [Slow] });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o', amount: 1 });
    const [dead] = await deadLetters({ kind: 'queue', queue: c.ProcessPayment.queue }, 1);
    expect(readFailure(dead!)?.code).to.equal('TIMEOUT');
    expect(aborted).to.equal(true);
  });

  it('publishes nothing from a handler that fails', async function () {
    const confirmed: string[] = [];
    let fail = true;
    @Subscriber({ group: 'g' })
    class Handlers {
      @Handle(c.ProcessPayment, { retry: { attempts: 2 } })
      async pay(cmd: ProcessPaymentV1, ctx: MessageContext) {
        await ctx.publish(c.OrderPlaced, { orderId: cmd.orderId, total: 0 });
        if (fail) {
          fail = false;
          throw new Error('after publishing');
        }
      }
      @Handle(c.OrderPlaced)
      placed(e: OrderPlacedV1) {
        confirmed.push(e.orderId);
      }
    }
    const b = bus({ handlers: [Handlers] });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o', amount: 1 });
    await waitFor(() => confirmed.length >= 1 && b.stats.handled >= 2, {
      message: 'the retry and its event',
    });
    expect(confirmed).to.deep.equal(['o']);
  });

  it('stops gracefully: in-flight handlers finish, nothing is lost or handled twice', async function () {
    const done: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    @Subscriber({ group: 'g', concurrency: 4 })
    class Slow {
      @Handle(c.ProcessPayment)
      async pay(cmd: ProcessPaymentV1) {
        await gate;
        done.push(cmd.orderId);
      }
    }
    const b = bus({ handlers: [Slow] });
    await b.start();
    for (let i = 0; i < 10; i++) await b.send(c.ProcessPayment, { orderId: `o${i}`, amount: i });
    await waitFor(() => b.stats.received === 4, { message: 'four handlers in flight' });
    const stopping = b.stop();
    release();
    await stopping;
    expect(done).to.have.length(4);
    expect(transport.depth({ kind: 'queue', queue: c.ProcessPayment.queue })).to.equal(6);
    const next = bus({ handlers: [Slow] });
    await next.start();
    await waitFor(() => done.length === 10, { message: 'the other six after a restart' });
    expect(new Set(done).size).to.equal(10);
  });

  it('aborts handlers still running at the drain deadline and leaves them for redelivery', async function () {
    let aborted = 0;
    @Subscriber({ group: 'g' })
    class Stuck {
      @Handle(c.ProcessPayment)
      async pay(_cmd: ProcessPaymentV1, ctx: MessageContext) {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        aborted++;
        throw new Error('aborted');
      }
    }
    const b = bus({ handlers: [Stuck], drainTimeoutMs: 50 });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o', amount: 1 });
    await waitFor(() => b.stats.received === 1, { message: 'the handler to start' });
    await b.stop();
    expect(aborted).to.equal(1);
    expect(b.stats.deadLettered + b.stats.retried).to.equal(0);
    expect(transport.depth({ kind: 'queue', queue: c.ProcessPayment.queue })).to.equal(1);
  });

  it('does not hang on a handler that ignores its signal: it is abandoned at the drain deadline', async function () {
    let finish!: () => void;
    @Subscriber({ group: 'g' })
    class Deaf {
      @Handle(c.ProcessPayment)
      async pay() {
        await new Promise<void>((resolve) => (finish = resolve));
      }
    }
    const b = bus({ handlers: [Deaf], drainTimeoutMs: 50 });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o', amount: 1 });
    await waitFor(() => b.stats.received === 1, { message: 'the handler to start' });
    await b.stop();
    expect(transport.depth({ kind: 'queue', queue: c.ProcessPayment.queue })).to.equal(1);
    finish();
    const inFlight = async () =>
      ((await b.health()).details?.consumers as { inFlight: number }[])[0]!.inFlight;
    await waitFor(async () => (await inFlight()) === 0, { message: 'the abandoned handler to return' });
    expect(b.stats.handled, 'an abandoned handling is not acked').to.equal(0);
    expect(transport.depth({ kind: 'queue', queue: c.ProcessPayment.queue })).to.equal(1);
  });

  it('does not hang on a settle or an asynchronous decode that never ends: both are abandoned at the drain deadline', async function () {
    // A broker whose acks never return (its connection hangs) ...
    class HangingAcks extends MemoryTransport {
      override consume(source: Source, sink: DeliverySink, options: ConsumeOptions): Promise<Consumer> {
        return super.consume(
          source,
          (delivery) =>
            sink({
              envelope: delivery.envelope,
              attempt: delivery.attempt,
              receivedAt: delivery.receivedAt,
              ack: () => new Promise<void>(() => undefined),
              retry: (delayMs) => delivery.retry(delayMs),
              deadLetter: (failure) => delivery.deadLetter(failure),
            }),
          options,
        );
      }
    }
    // ... and a decoder that never answers (a schema registry that hangs).
    const stuck = {
      contentType: 'application/x-stuck',
      encode: (payload: unknown) => Buffer.from(JSON.stringify(payload)),
      decode: () => new Promise<never>(() => undefined),
    };
    const Stuck = defineCommand<ProcessPaymentV1>({
      type: 'payments.Stuck',
      queue: c.ProcessPayment.queue,
      contentType: stuck.contentType,
    });
    const handled: string[] = [];
    @Subscriber({ group: 'g' })
    class Payments {
      @Handle(c.ProcessPayment)
      pay(cmd: ProcessPaymentV1) {
        handled.push(cmd.orderId);
      }
      @Handle(Stuck)
      stuck() {
        handled.push('never');
      }
    }
    const hanging = new HangingAcks();
    const b = bus({ transport: hanging, handlers: [Payments], serializers: [stuck], drainTimeoutMs: 50 });
    await b.start();
    await b.send(c.ProcessPayment, { orderId: 'o', amount: 1 });
    await b.send(Stuck, { orderId: 's', amount: 1 });
    await waitFor(() => handled.length === 1 && b.stats.received === 2, { message: 'both deliveries taken' });
    await b.stop();
    expect(handled).to.deep.equal(['o']);
    // Neither was settled: both went back to the queue when the consumer closed.
    expect(hanging.depth({ kind: 'queue', queue: c.ProcessPayment.queue })).to.equal(2);
    await hanging.close();
  });

  it('encodes a payload once through an asynchronous serializer, and rejects with its error', async function () {
    let calls = 0;
    const asyncJson = {
      contentType: 'application/x-async-json',
      async encode(payload: unknown) {
        calls++;
        if ((payload as { orderId: string }).orderId === 'bad') throw new SchemaError('does not fit');
        return Buffer.from(JSON.stringify(payload));
      },
      decode: (body: Uint8Array) => JSON.parse(Buffer.from(body).toString()) as unknown,
    };
    const Typed = defineCommand<ProcessPaymentV1>({
      type: 'payments.Typed',
      queue: c.ProcessPayment.queue,
      contentType: asyncJson.contentType,
    });
    const handled: string[] = [];
    @Subscriber({ group: 'g' })
    class Handlers {
      @Handle(Typed)
      pay(cmd: ProcessPaymentV1) {
        handled.push(cmd.orderId);
      }
    }
    const b = bus({ handlers: [Handlers], serializers: [asyncJson] });
    await b.start();
    await b.send(Typed, { orderId: 'o1', amount: 1 });
    expect(calls).to.equal(1);
    await waitFor(() => handled.length === 1, { message: 'the command handled' });
    const error = await b.send(Typed, { orderId: 'bad', amount: 1 }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(SchemaError);
    expect(calls).to.equal(2);
  });

  it('reports health', async function () {
    @Subscriber({ group: 'g' })
    class Handlers {
      @Handle(c.ProcessPayment)
      pay() {}
    }
    const b = bus({ handlers: [Handlers] });
    expect((await b.health()).status).to.equal('down');
    await b.start();
    const report = await b.health();
    expect(report.status).to.equal('up');
    expect(report.details?.consumers).to.have.length(1);
    await b.stop();
    expect((await b.health()).status).to.equal('down');
  });

  describe('configuration', function () {
    it('names the field of a bad option', function () {
      expect(() => new Bus({ transport, serviceName: '' })).to.throw(ConfigurationError, /serviceName/);
      expect(() => new Bus({ transport, serviceName: 's', concurrency: 0 })).to.throw(
        ConfigurationError,
        /concurrency/,
      );
      expect(() => new Bus({ transport, serviceName: 's', retry: { attempts: 1.5 } })).to.throw(
        /retry\.attempts/,
      );
    });

    it('refuses a handler class without @Subscriber, and two handlers of one type on one consumer', function () {
      class Bare {
        @Handle(c.ProcessPayment)
        pay() {}
      }
      expect(() => bus({ handlers: [Bare] })).to.throw(ConfigurationError, /@Subscriber/);
      @Subscriber({ group: 'g' })
      class A {
        @Handle(c.ProcessPayment)
        pay() {}
      }
      @Subscriber({ group: 'g' })
      class B {
        @Handle(c.ProcessPayment)
        pay() {}
      }
      expect(() => bus({ handlers: [A, B] })).to.throw(ConfigurationError, /two handlers/);
    });

    it('refuses reserved header names', async function () {
      const b = bus();
      await b.start();
      const error = await b
        .publish(c.OrderPlaced, { orderId: 'o', total: 1 }, { headers: { ce_id: 'x' } })
        .catch((e: unknown) => e);
      expect(error).to.be.instanceOf(ConfigurationError);
    });
  });

  describe('inversify', function () {
    const Gateway = Symbol('Gateway');
    interface Gateway {
      charge(amount: number): string;
    }

    it('resolves a handler per message with its dependencies, through omnibusModule', async function () {
      const charged: string[] = [];
      const instances = new Set<object>();
      @injectable()
      @Subscriber({ group: 'payments' })
      class PaymentHandlers {
        constructor(@inject(Gateway) private readonly gateway: Gateway) {
          instances.add(this);
        }
        @Handle(c.ProcessPayment)
        pay(cmd: ProcessPaymentV1) {
          charged.push(this.gateway.charge(cmd.amount));
        }
      }
      const container = new Container();
      container.bind<Gateway>(Gateway).toConstantValue({ charge: (amount) => `charged ${amount}` });
      container.load(
        omnibusModule({
          transport,
          serviceName: 'payments',
          handlers: [PaymentHandlers],
          closeTransport: false,
        }),
      );
      const b = container.get(Bus);
      buses.push(b);
      expect(container.get(Bus)).to.equal(b);
      await b.start();
      await b.send(c.ProcessPayment, { orderId: 'o1', amount: 5 });
      await b.send(c.ProcessPayment, { orderId: 'o2', amount: 7 });
      await waitFor(() => charged.length === 2, { message: 'two payments' });
      expect(charged.sort()).to.deep.equal(['charged 5', 'charged 7']);
      expect(instances.size).to.equal(3, 'one resolved at start to check the wiring, then one per message');
    });

    it('fails start with a ConfigurationError naming the handler class and its missing binding', async function () {
      @injectable()
      @Subscriber({ group: 'payments' })
      class PaymentHandlers {
        constructor(@inject(Gateway) private readonly gateway: Gateway) {}
        @Handle(c.ProcessPayment)
        pay(cmd: ProcessPaymentV1) {
          this.gateway.charge(cmd.amount);
        }
      }
      const container = new Container(); // Gateway is not bound
      const b = createBus(container, {
        transport,
        serviceName: 'p',
        handlers: [PaymentHandlers],
        closeTransport: false,
      });
      buses.push(b);
      const error = await b.start().then(
        () => expect.fail('expected start to fail'),
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(ConfigurationError).and.include({ field: 'handlers', retriable: false });
      expect((error as Error).message)
        .to.include('PaymentHandlers')
        .and.include('Gateway');
      expect(b.state).to.equal('stopped');
    });

    it('wires a bus into an existing container with createBus', async function () {
      const charged: number[] = [];
      @injectable()
      @Subscriber({ group: 'payments' })
      class PaymentHandlers {
        constructor(@inject(Gateway) private readonly gateway: Gateway) {}
        @Handle(c.ProcessPayment)
        pay(cmd: ProcessPaymentV1) {
          this.gateway.charge(cmd.amount);
          charged.push(cmd.amount);
        }
      }
      const container = new Container();
      container.bind<Gateway>(Gateway).toConstantValue({ charge: String });
      const b = createBus(container, {
        transport,
        serviceName: 'p',
        handlers: [PaymentHandlers],
        closeTransport: false,
      });
      buses.push(b);
      await b.start();
      await b.send(c.ProcessPayment, { orderId: 'o', amount: 3 });
      await waitFor(() => charged.length === 1, { message: 'the payment' });
    });
  });
});
