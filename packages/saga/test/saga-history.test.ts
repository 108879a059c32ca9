import 'reflect-metadata';
import { expect } from 'chai';
import type { SagaRecord } from '@omnibus/core';
import {
  Bus,
  DeserializationError,
  MemoryPersistence,
  MemoryTransport,
  constant,
  defineEvent,
} from '@omnibus/core';
import { uniqueName, waitFor } from '@omnibus/core/testing';
import type { SagaContext } from '../src/index.js';
import { Handles, MemorySagaStore, Saga, SagaRuntime, StartedBy, inspectSaga } from '../src/index.js';

describe('saga history and inspectSaga', function () {
  const prefix = uniqueName();
  const Opened = defineEvent<{ id: string }>({ type: `${prefix}.Opened`, channel: `${prefix}-opened` });
  const Ticked = defineEvent<{ id: string; n: number }>({
    type: `${prefix}.Ticked`,
    channel: `${prefix}-ticks`,
  });
  const Failed = defineEvent<{ id: string }>({ type: `${prefix}.Failed`, channel: `${prefix}-failed` });
  const Closed = defineEvent<{ id: string }>({ type: `${prefix}.Closed`, channel: `${prefix}-closed` });
  const Undo = defineEvent<{ id: string }>({ type: `${prefix}.Undo`, channel: `${prefix}-undo` });

  @Saga<{ ticks: number }>({
    name: `${prefix}-counter`,
    initial: () => ({ ticks: 0 }),
    compensations: [Undo],
  })
  class Counter {
    @StartedBy(Opened, { correlate: (e) => e.id })
    opened(_e: { id: string }, saga: SagaContext<{ ticks: number }>) {
      saga.compensateWith(Undo, { id: saga.key });
    }

    @Handles(Ticked, { correlate: (e) => e.id })
    ticked(e: { id: string; n: number }, saga: SagaContext<{ ticks: number }>) {
      saga.state.ticks = e.n;
    }

    @Handles(Failed, { correlate: (e) => e.id })
    async failed(_e: { id: string }, saga: SagaContext<{ ticks: number }>) {
      await saga.compensate();
    }

    @Handles(Closed, { correlate: (e) => e.id })
    closed(_e: { id: string }, saga: SagaContext<{ ticks: number }>) {
      saga.complete();
    }
  }

  let transport: MemoryTransport;
  let store: MemorySagaStore;
  let bus: Bus;
  let runtime: SagaRuntime;

  beforeEach(async function () {
    transport = new MemoryTransport();
    store = new MemorySagaStore();
    await transport.provision({ subscriptions: [{ channel: Undo.channel, group: 'undo-sink' }] });
    runtime = new SagaRuntime({ store, sagas: [Counter] });
    bus = new Bus({
      transport,
      serviceName: 'history',
      persistence: new MemoryPersistence(),
      handlers: runtime.handlers,
      retry: { attempts: 3, backoff: constant(0) },
      outboxRelay: { pollIntervalMs: 5 },
    });
    await bus.start();
  });
  afterEach(async function () {
    await bus.stop();
  });

  async function stored(key: string): Promise<SagaRecord> {
    const record = await store.get(`${prefix}-counter`, key);
    expect(record, `instance ${key}`).to.not.equal(undefined);
    return record!;
  }

  async function step(key: string, version: number, publish: () => Promise<unknown>): Promise<void> {
    await publish();
    await waitFor(async () => (await store.get(`${prefix}-counter`, key))?.version === version, {
      message: `${key} at version ${version}`,
    });
  }

  it('records each committed step: type, message id, time, version after it, what it did', async function () {
    const before = Date.now();
    await step('a', 1, () => bus.publish(Opened, { id: 'a' }));
    await step('a', 2, () => bus.publish(Ticked, { id: 'a', n: 1 }));
    await step('a', 3, () => bus.publish(Failed, { id: 'a' }));
    await step('a', 4, () => bus.publish(Closed, { id: 'a' }));
    const inspected = inspectSaga(await stored('a'));
    expect(inspected.status).to.equal('completed');
    expect(inspected.state).to.deep.equal({ ticks: 1 });
    expect(inspected.compensated).to.equal(true);
    expect(inspected.history.map((h) => [h.type, h.version, h.action])).to.deep.equal([
      [Opened.type, 1, 'started'],
      [Ticked.type, 2, 'handled'],
      [Failed.type, 3, 'compensated'],
      [Closed.type, 4, 'completed'],
    ]);
    const ids = new Set(inspected.history.map((h) => h.messageId));
    expect(ids.size, 'one message id per step').to.equal(4);
    for (const entry of inspected.history) {
      expect(Date.parse(entry.at)).to.be.within(before, Date.now());
    }
  });

  it('keeps the last 50 steps, dropping the oldest', async function () {
    await step('b', 1, () => bus.publish(Opened, { id: 'b' }));
    for (let n = 1; n <= 54; n++) await step('b', n + 1, () => bus.publish(Ticked, { id: 'b', n }));
    const { history, version } = inspectSaga(await stored('b'));
    expect(version).to.equal(55);
    expect(history).to.have.length(50);
    expect(history[0]!.version).to.equal(6);
    expect(history.at(-1)!.version).to.equal(55);
  });

  it('decodes a record written before history was kept with an empty history', function () {
    const record: SagaRecord = {
      saga: 'old',
      key: 'k',
      version: 3,
      status: 'running',
      data: JSON.stringify({
        state: { at: { $date: '2026-01-02T03:04:05.000Z' } },
        timeouts: [{ name: 'payment', token: 't', dueAt: '2026-01-03T00:00:00.000Z' }],
        compensations: [{ type: 'Undo', payload: { id: 'k' } }],
        compensated: false,
      }),
      createdAt: new Date(0),
      updatedAt: new Date(1),
    };
    const inspected = inspectSaga(record);
    expect(inspected.history).to.deep.equal([]);
    expect(inspected.state).to.deep.equal({ at: new Date('2026-01-02T03:04:05.000Z') });
    expect(inspected.timeouts).to.deep.equal([
      { name: 'payment', dueAt: new Date('2026-01-03T00:00:00.000Z') },
    ]);
    expect(inspected.compensations).to.deep.equal([{ type: 'Undo', payload: { id: 'k' } }]);
  });

  it('data that is not a saga document is a typed error naming the instance', function () {
    for (const data of [
      'not json',
      '{"state":1}',
      JSON.stringify({ state: 1, timeouts: [], compensations: [], compensated: false, history: 'x' }),
    ]) {
      let thrown: unknown;
      try {
        inspectSaga({
          saga: 's',
          key: 'k',
          version: 1,
          status: 'running',
          data,
          createdAt: new Date(),
          updatedAt: new Date(),
        });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, data).to.be.instanceOf(DeserializationError);
      expect((thrown as DeserializationError).code).to.equal('SAGA_STATE_UNREADABLE');
      expect((thrown as Error).message).to.contain('saga s instance k');
    }
  });
});
