import 'reflect-metadata';
import { expect } from 'chai';
import type { Envelope, HandlingContext, MemoryTransaction, Source } from '@omnibus/core';
import type { TimeoutScheduler } from '../src/index.js';
import {
  Bus,
  NonRetriableError,
  ConfigurationError,
  Header,
  MemoryPersistence,
  MemoryTransport,
  constant,
  defineEvent,
} from '@omnibus/core';
import { collectChannel, uniqueName, waitFor } from '@omnibus/core/testing';
import type { SagaContext } from '../src/index.js';
import { Handles, MemorySagaStore, Saga, SagaRuntime, StartedBy, Timeout } from '../src/index.js';
import {
  OrderConfirmed,
  OrderFulfilment,
  OrderPlaced,
  PaymentSucceeded,
  ProcessPayment,
  StockReserved,
} from './order-fulfilment.js';
import type { OrderState } from './order-fulfilment.js';
import { shuffledItems, tallyContracts } from '../src/testing/tally-saga.js';

describe('sagas on the bus (memory transport, memory persistence)', function () {
  let transport: MemoryTransport;
  let persistence: MemoryPersistence;
  let store: MemorySagaStore;
  const buses: Bus[] = [];

  /** Records timeout requests without delivering them: these tests do not let timeouts fall due. */
  const requested: string[] = [];
  const scheduler: TimeoutScheduler = {
    schedule: async (_cause, _contract, message) => {
      requested.push(`${message.key}:${message.name}`);
      return undefined;
    },
    cancel: async () => undefined,
  };

  beforeEach(function () {
    requested.length = 0;
    transport = new MemoryTransport();
    persistence = new MemoryPersistence();
    store = new MemorySagaStore();
  });
  afterEach(async function () {
    await Promise.all(buses.splice(0).map((bus) => bus.stop()));
    await transport.close();
  });

  async function start(runtime: SagaRuntime): Promise<Bus> {
    const bus = new Bus({
      transport,
      serviceName: 'orders',
      persistence,
      handlers: runtime.handlers,
      closeTransport: false,
      retry: { attempts: 3, backoff: constant(0) },
      outboxRelay: { pollIntervalMs: 5 },
    });
    buses.push(bus);
    await bus.start();
    return bus;
  }

  async function deadLetters(
    of: Extract<Source, { kind: 'queue' | 'subscription' }>,
    count: number,
  ): Promise<Envelope[]> {
    const seen: Envelope[] = [];
    const consumer = await transport.consume(
      { kind: 'deadLetters', of },
      async (d) => void seen.push(d.envelope),
      {
        concurrency: 100,
      },
    );
    await waitFor(() => seen.length >= count, { message: `${count} dead letters` });
    await consumer.close();
    return seen;
  }

  it('runs each step as a handler in the unit of work: state, sends and publishes commit together', async function () {
    const runtime = new SagaRuntime({ store, sagas: [OrderFulfilment], scheduler });
    await transport.provision({ queues: [{ name: ProcessPayment.queue }] });
    const payments: Envelope[] = [];
    await transport.consume(
      { kind: 'queue', queue: ProcessPayment.queue },
      async (d) => {
        payments.push(d.envelope);
        await d.ack();
      },
      { concurrency: 1 },
    );
    const confirmed = await collectChannel(transport, OrderConfirmed.channel, 'watcher');
    const bus = await start(runtime);
    await bus.publish(OrderPlaced, { orderId: 'o1', amount: 5, lines: [] });
    await waitFor(async () => (await runtime.get<OrderState>('order-fulfilment', 'o1')) !== undefined);
    await bus.publish(StockReserved, { orderId: 'o1' });
    await waitFor(() => payments.length === 1, { message: 'ProcessPayment sent' });
    expect(payments[0]!.headers[Header.correlationId]).to.be.a('string');
    const running = await runtime.get<OrderState>('order-fulfilment', 'o1');
    expect(running?.status).to.equal('running');
    expect(running?.state.status).to.equal('paying');
    expect(running?.version).to.equal(2);
    expect(requested).to.deep.equal(['o1:payment']);
    expect(running?.pendingTimeouts.map((t) => t.name)).to.deep.equal(['payment']);
    await bus.publish(PaymentSucceeded, { orderId: 'o1', paymentId: 'p1' });
    await waitFor(() => confirmed.some((e) => e.type === OrderConfirmed.type), { message: 'OrderConfirmed' });
    const done = await runtime.get<OrderState>('order-fulfilment', 'o1');
    expect(done?.status).to.equal('completed');
    expect(done?.completedAt).to.be.instanceOf(Date);
    expect((await runtime.list('order-fulfilment', { status: 'completed' })).map((i) => i.key)).to.deep.equal(
      ['o1'],
    );
    expect(runtime.stats.steps).to.equal(3);
  });

  it('a correlate that throws or returns an empty key dead-letters the message with the reason', async function () {
    const prefix = uniqueName();
    const Item = defineEvent<{ id: string }>({ type: `${prefix}.Item`, channel: `${prefix}-items` });
    @Saga<object>({ name: `${prefix}-bad`, initial: () => ({}) })
    class Bad {
      @StartedBy(Item, {
        correlate: (item) => {
          if (item.id === 'throw') throw new Error('no order id in this message');
          return item.id;
        },
      })
      step(_item: { id: string }, _saga: SagaContext<object>) {}
    }
    const runtime = new SagaRuntime({ store, sagas: [Bad] });
    const bus = await start(runtime);
    await bus.publish(Item, { id: 'throw' });
    await bus.publish(Item, { id: '' });
    const dead = await deadLetters(
      { kind: 'subscription', channel: Item.channel, group: `${prefix}-bad` },
      2,
    );
    expect(dead.map((e) => e.headers[Header.errorCode])).to.deep.equal([
      'SAGA_CORRELATION_FAILED',
      'SAGA_CORRELATION_FAILED',
    ]);
    expect(dead[0]!.headers[Header.errorMessage]).to.contain('no order id in this message');
    expect(dead[1]!.headers[Header.errorMessage]).to.contain('empty key');
    expect(dead[0]!.headers[Header.errorAttempts]).to.equal('1');
  });

  it('state that no longer deserializes dead-letters its messages with the reason; other instances go on', async function () {
    const runtime = new SagaRuntime({ store, sagas: [OrderFulfilment], scheduler });
    const bus = await start(runtime);
    await bus.publish(OrderPlaced, { orderId: 'broken', amount: 5, lines: [] });
    await bus.publish(OrderPlaced, { orderId: 'fine', amount: 5, lines: [] });
    await waitFor(async () => (await runtime.list('order-fulfilment')).length === 2, {
      message: 'two instances',
    });
    const record = (await store.get('order-fulfilment', 'broken'))!;
    await persistence.unitOfWork.transaction(async (tx: MemoryTransaction) =>
      store.save(tx, { ...record, version: record.version + 1, data: '{"state": truncated' }, record.version),
    );
    await bus.publish(StockReserved, { orderId: 'broken' });
    await bus.publish(StockReserved, { orderId: 'fine' });
    const [dead] = await deadLetters(
      { kind: 'subscription', channel: StockReserved.channel, group: 'order-fulfilment' },
      1,
    );
    expect(dead!.headers[Header.errorCode]).to.equal('SAGA_STATE_UNREADABLE');
    expect(dead!.headers[Header.errorMessage]).to.contain('instance broken').and.contain('not valid JSON');
    await waitFor(
      async () => (await runtime.get<OrderState>('order-fulfilment', 'fine'))?.state.status === 'paying',
      {
        message: 'the healthy instance moves on',
      },
    );
  });

  it('a message for a missing instance is dead-lettered with the reason when the saga says so', async function () {
    const prefix = uniqueName();
    const Start = defineEvent<{ id: string }>({ type: `${prefix}.Start`, channel: `${prefix}-c` });
    const Later = defineEvent<{ id: string }>({ type: `${prefix}.Later`, channel: `${prefix}-c` });
    @Saga<object>({ name: `${prefix}-strict`, initial: () => ({}), unmatched: 'deadLetter' })
    class Strict {
      @StartedBy(Start, { correlate: (m) => m.id }) start() {}
      @Handles(Later, { correlate: (m) => m.id }) later() {}
    }
    const runtime = new SagaRuntime({ store, sagas: [Strict] });
    const bus = await start(runtime);
    await bus.publish(Later, { id: 'ghost' });
    const [dead] = await deadLetters(
      { kind: 'subscription', channel: Later.channel, group: `${prefix}-strict` },
      1,
    );
    expect(dead!.headers[Header.errorCode]).to.equal('SAGA_NOT_FOUND');
    expect(dead!.headers[Header.errorMessage]).to.contain('ghost');
  });

  it('a message for a missing or completed instance is acked and counted by default (unmatched: ack)', async function () {
    const prefix = uniqueName();
    const Start = defineEvent<{ id: string }>({ type: `${prefix}.Start`, channel: `${prefix}-c` });
    const Finish = defineEvent<{ id: string }>({ type: `${prefix}.Finish`, channel: `${prefix}-c` });
    @Saga<object>({ name: `${prefix}-lenient`, initial: () => ({}) })
    class Lenient {
      @StartedBy(Start, { correlate: (m) => m.id }) start() {}
      @Handles(Finish, { correlate: (m) => m.id }) finish(_m: { id: string }, saga: SagaContext<object>) {
        saga.complete();
      }
    }
    const runtime = new SagaRuntime({ store, sagas: [Lenient] });
    const bus = await start(runtime);
    await bus.publish(Finish, { id: 'ghost' });
    await bus.publish(Start, { id: 'k' });
    await waitFor(async () => (await runtime.get(`${prefix}-lenient`, 'k')) !== undefined);
    await bus.publish(Finish, { id: 'k' });
    await waitFor(async () => (await runtime.get(`${prefix}-lenient`, 'k'))?.status === 'completed');
    await bus.publish(Finish, { id: 'k' });
    await waitFor(() => runtime.stats.unmatched === 2, { message: 'two unmatched messages counted' });
    await waitFor(() => bus.stats.handled === 4, { message: 'all four acked' });
    expect(bus.stats.deadLettered).to.equal(0);
    expect(runtime.stats.steps).to.equal(2);
    expect(await runtime.get(`${prefix}-lenient`, 'ghost')).to.equal(undefined);
  });

  it('a message for a completed instance is dead-lettered with the reason when the saga says so', async function () {
    const prefix = uniqueName();
    const Start = defineEvent<{ id: string }>({ type: `${prefix}.Start`, channel: `${prefix}-c` });
    const Finish = defineEvent<{ id: string }>({ type: `${prefix}.Finish`, channel: `${prefix}-c` });
    @Saga<object>({ name: `${prefix}-strict`, initial: () => ({}), unmatched: 'deadLetter' })
    class Strict {
      @StartedBy(Start, { correlate: (m) => m.id }) start(_m: { id: string }, saga: SagaContext<object>) {
        saga.complete();
      }
      @Handles(Finish, { correlate: (m) => m.id }) finish() {}
    }
    const runtime = new SagaRuntime({ store, sagas: [Strict] });
    const bus = await start(runtime);
    await bus.publish(Start, { id: 'done' });
    await waitFor(async () => (await runtime.get(`${prefix}-strict`, 'done'))?.status === 'completed');
    await bus.publish(Finish, { id: 'done' });
    const [dead] = await deadLetters(
      { kind: 'subscription', channel: Finish.channel, group: `${prefix}-strict` },
      1,
    );
    expect(dead!.type).to.equal(Finish.type);
    expect(dead!.headers[Header.errorCode]).to.equal('SAGA_NOT_FOUND');
    expect(dead!.headers[Header.errorMessage]).to.contain('instance done').and.contain('instance completed');
    expect(runtime.stats.unmatched).to.equal(0);
  });

  it('state its readState refuses dead-letters the message with the reason; other instances go on', async function () {
    const prefix = uniqueName();
    const Step = defineEvent<{ id: string }>({ type: `${prefix}.Step`, channel: `${prefix}-c` });
    interface CountV2 {
      count: number;
    }
    @Saga<CountV2>({
      name: `${prefix}-versioned`,
      initial: () => ({ count: 0 }),
      readState: (raw) => {
        if (typeof (raw as Partial<CountV2>).count !== 'number') throw new Error('count is missing');
        return raw as CountV2;
      },
    })
    class Versioned {
      @StartedBy(Step, { correlate: (m) => m.id }) step(_m: { id: string }, saga: SagaContext<CountV2>) {
        saga.state.count++;
      }
    }
    const name = `${prefix}-versioned`;
    const runtime = new SagaRuntime({ store, sagas: [Versioned] });
    const bus = await start(runtime);
    await bus.publish(Step, { id: 'old' });
    await bus.publish(Step, { id: 'new' });
    await waitFor(async () => (await runtime.list(name)).length === 2, { message: 'two instances' });
    const record = (await store.get(name, 'old'))!;
    const v1 = JSON.stringify({ state: { total: 1 }, timeouts: [], compensations: [], compensated: false });
    await persistence.unitOfWork.transaction(async (tx: MemoryTransaction) =>
      store.save(tx, { ...record, version: record.version + 1, data: v1 }, record.version),
    );
    await bus.publish(Step, { id: 'old' });
    await bus.publish(Step, { id: 'new' });
    const [dead] = await deadLetters({ kind: 'subscription', channel: Step.channel, group: name }, 1);
    expect(dead!.headers[Header.errorCode]).to.equal('SAGA_STATE_UNREADABLE');
    expect(dead!.headers[Header.errorMessage]).to.contain('instance old').and.contain('count is missing');
    expect(dead!.headers[Header.errorAttempts]).to.equal('1');
    await waitFor(async () => (await runtime.get<CountV2>(name, 'new'))?.state.count === 2, {
      message: 'the healthy instance moves on',
    });
    expect(bus.stats.deadLettered).to.equal(1);
  });

  it('a second start message for an existing instance is handled by that instance, not a new one', async function () {
    const runtime = new SagaRuntime({ store, sagas: [OrderFulfilment], scheduler });
    const bus = await start(runtime);
    await bus.publish(OrderPlaced, { orderId: 'twice', amount: 5, lines: [] });
    await waitFor(async () => (await runtime.get('order-fulfilment', 'twice')) !== undefined);
    await bus.publish(OrderPlaced, { orderId: 'twice', amount: 99, lines: [] });
    await waitFor(async () => (await runtime.get('order-fulfilment', 'twice'))?.version === 2, {
      message: 'the second OrderPlaced ran as a step of the same instance',
    });
    const instance = await runtime.get<OrderState>('order-fulfilment', 'twice');
    expect(instance?.state.amount).to.equal(5);
    expect(instance?.state.history).to.deep.equal(['placed']);
    expect(runtime.stats.started).to.equal(1);
    expect(runtime.stats.steps).to.equal(2);
    expect(await runtime.list('order-fulfilment')).to.have.length(1);
  });

  it('keeps completed instances for the retention period, then a later step purges them', async function () {
    const prefix = uniqueName();
    const Start = defineEvent<{ id: string; done: boolean }>({
      type: `${prefix}.Start`,
      channel: `${prefix}-c`,
    });
    @Saga<object>({ name: `${prefix}-kept`, initial: () => ({}) })
    class Kept {
      @StartedBy(Start, { correlate: (m) => m.id })
      start(m: { id: string; done: boolean }, saga: SagaContext<object>) {
        if (m.done) saga.complete();
      }
    }
    const name = `${prefix}-kept`;
    let now = Date.UTC(2026, 0, 1);
    const runtime = new SagaRuntime({
      store,
      sagas: [Kept],
      clock: { now: () => now },
      retentionMs: 60_000,
      purgeIntervalMs: 1_000,
    });
    const bus = await start(runtime);
    await bus.publish(Start, { id: 'finished', done: true });
    await bus.publish(Start, { id: 'running', done: false });
    await waitFor(() => runtime.stats.steps === 2);
    now += 59_000;
    await bus.publish(Start, { id: 'second', done: true });
    await waitFor(() => runtime.stats.steps === 3);
    expect((await runtime.list(name, { status: 'completed' })).map((i) => i.key)).to.have.members([
      'finished',
      'second',
    ]);
    now += 2_000; // 'finished' is past its retention, 'second' is not
    await bus.publish(Start, { id: 'third', done: false });
    await waitFor(() => runtime.stats.purged === 1, { message: 'the expired instance purged' });
    expect(await runtime.get(name, 'finished')).to.equal(undefined);
    expect((await runtime.list(name)).map((i) => i.key)).to.have.members(['running', 'second', 'third']);
    now += 60_000;
    expect(await runtime.purgeExpired()).to.equal(1);
    expect((await runtime.list(name)).map((i) => i.key)).to.have.members(['running', 'third']);
  });

  it('checks retentionMs and purgeIntervalMs at construction, naming the field', function () {
    expect(() => new SagaRuntime({ store, sagas: [OrderFulfilment], retentionMs: 0 }))
      .to.throw(ConfigurationError)
      .with.property('field', 'retentionMs');
    expect(() => new SagaRuntime({ store, sagas: [OrderFulfilment], purgeIntervalMs: -1 }))
      .to.throw(ConfigurationError)
      .with.property('field', 'purgeIntervalMs');
  });

  it('a step that cancels a timeout and then rolls back leaves the timeout in place: it still fires', async function () {
    const prefix = uniqueName();
    const Start = defineEvent<{ id: string }>({ type: `${prefix}.Start`, channel: `${prefix}-c` });
    const Finish = defineEvent<{ id: string }>({ type: `${prefix}.Finish`, channel: `${prefix}-c` });
    @Saga<{ fired: boolean }>({ name: `${prefix}-rollback`, initial: () => ({ fired: false }) })
    class Rollback {
      @StartedBy(Start, { correlate: (m) => m.id })
      async start(_m: { id: string }, saga: SagaContext<{ fired: boolean }>) {
        await saga.requestTimeout('due', { afterMs: 300 });
      }
      @Handles(Finish, { correlate: (m) => m.id }) finish(_m: { id: string }, saga: SagaContext<object>) {
        saga.complete(); // cancels 'due' — but this step will not commit
      }
      @Timeout('due') due(_t: unknown, saga: SagaContext<{ fired: boolean }>) {
        saga.state.fired = true;
        saga.complete();
      }
    }
    const name = `${prefix}-rollback`;
    const runtime = new SagaRuntime({ store, sagas: [Rollback], schedules: persistence.schedules });
    /** Fails Finish after its step ran, inside the unit of work, once work queued by the step has run. */
    const failAfterStep = async (ctx: HandlingContext, next: () => Promise<void>): Promise<void> => {
      await next();
      if (ctx.contract.type !== Finish.type) return;
      for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
      throw new NonRetriableError('the commit of this step fails');
    };
    const bus = new Bus({
      transport,
      serviceName: 'orders',
      persistence,
      handlers: runtime.handlers,
      closeTransport: false,
      middleware: [failAfterStep],
      outboxRelay: { pollIntervalMs: 5 },
    });
    buses.push(bus);
    await bus.start();
    await bus.publish(Start, { id: 'k' });
    await waitFor(async () => (await persistence.schedules.pending()) === 1, {
      message: 'timeout scheduled',
    });
    await bus.publish(Finish, { id: 'k' });
    await waitFor(() => bus.stats.deadLettered === 1, { message: 'Finish failed and dead-lettered' });
    await waitFor(async () => (await runtime.get<{ fired: boolean }>(name, 'k'))?.state.fired === true, {
      message: 'the timeout fired: the rolled-back step did not cancel it',
    });
  });

  it('concurrent messages of one instance lose no update: conflicts retry with fresh state', async function () {
    const prefix = uniqueName();
    const tallyName = `${prefix}-tally`;
    const { TallyItem, TallyDone, Tally } = tallyContracts(prefix);
    const runtime = new SagaRuntime({ store, sagas: [Tally] });
    const done = await collectChannel(transport, TallyDone.channel, 'watcher');
    const bus = await start(runtime);
    const items = shuffledItems(20, 10);
    await Promise.all(items.map((item) => bus.publish(TallyItem, item)));
    await waitFor(() => done.length === 20, { message: '20 tallies done', timeoutMs: 20_000 });
    const instances = await runtime.list<{ seen: number[]; steps: number }>(tallyName, { limit: 100 });
    expect(instances).to.have.length(20);
    for (const instance of instances) {
      expect(instance.status).to.equal('completed');
      expect([...instance.state.seen].sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(instance.state.steps).to.equal(10);
    }
    expect(bus.stats.deadLettered).to.equal(0);
    expect(bus.stats.conflicts, 'version conflicts happened and ran again').to.be.greaterThan(0);
  });
});
