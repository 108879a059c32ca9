import { expect } from 'chai';
import type { Persistence, SagaStore, ScheduleStore } from '@omnibus/core';
import { Bus, MemoryTransport, NonRetriableError, constant, defineEvent } from '@omnibus/core';
import { uniqueName, waitFor } from '@omnibus/core/testing';
import type { SagaContext } from '../saga-context.js';
import { Handles, Saga, StartedBy, Timeout } from '../saga-decorators.js';
import { inspectSaga } from '../saga-inspection.js';
import type { SagaRuntimeOptions } from '../saga-runtime.js';
import { SagaRuntime } from '../saga-runtime.js';

/** A connection to the test's database: its persistence (with `schedules`) and its saga store. */
export interface OpenedSagaDatabase {
  readonly persistence: Persistence;
  readonly store: SagaStore;
  close(): Promise<void>;
}

/** One fresh database per test, opened as often as the test restarts. */
export interface SagaTimeoutDatabase {
  /** A new persistence and store on the test's database (each call is a new connection). */
  open(): Promise<OpenedSagaDatabase>;
  /** Drops what the test left; run after each test. */
  drop(): Promise<void>;
}

interface ReminderState {
  fired: boolean;
}

/**
 * The saga runtime on a real persistence. Timeouts through the persistence's scheduled messages, with the default wiring of `SagaRuntime`
 * (`ScheduledTimeouts`, given `schedules`): a timeout commits with the step that asked for it or not at
 * all, survives a restart and fires in the next process, and is cancelled when the saga completes. And
 * the retention purge, which like the cancel runs after a step, on the store's own connection.
 */
export function runSagaTimeoutTests(name: string, createDatabase: () => Promise<SagaTimeoutDatabase>): void {
  describe(`${name}: saga timeouts as scheduled messages, and retention`, function () {
    this.timeout(60_000);
    let database: SagaTimeoutDatabase;
    let prefix: string;
    const running: Bus[] = [];
    const opened: OpenedSagaDatabase[] = [];

    beforeEach(async function () {
      database = await createDatabase();
      prefix = uniqueName('timeouts');
    });
    afterEach(async function () {
      for (const bus of running.splice(0)) await bus.stop();
      for (const connection of opened.splice(0)) await connection.close();
      await database.drop();
    });

    function reminderSaga() {
      const Start = defineEvent<{ id: string; afterMs: number; fail?: boolean }>({
        type: `${prefix}.Start`,
        channel: `${prefix}-events`,
      });
      const Finish = defineEvent<{ id: string }>({ type: `${prefix}.Finish`, channel: `${prefix}-events` });
      @Saga<ReminderState>({ name: `${prefix}-reminder`, initial: () => ({ fired: false }) })
      class Reminder {
        @StartedBy(Start, { correlate: (m) => m.id })
        async start(m: { id: string; afterMs: number; fail?: boolean }, saga: SagaContext<ReminderState>) {
          await saga.requestTimeout('due', { afterMs: m.afterMs });
          if (m.fail === true) throw new NonRetriableError('the step failed after requesting its timeout');
        }
        @Handles(Finish, { correlate: (m) => m.id })
        finish(_m: { id: string }, saga: SagaContext<ReminderState>) {
          saga.complete();
        }
        @Timeout('due')
        due(_timeout: unknown, saga: SagaContext<ReminderState>) {
          saga.state.fired = true;
          saga.complete();
        }
      }
      return { Start, Finish, Reminder, sagaName: `${prefix}-reminder` };
    }

    async function startService(
      sagas: ReturnType<typeof reminderSaga>,
      runtimeOptions: Partial<SagaRuntimeOptions> = {},
    ): Promise<{
      bus: Bus;
      runtime: SagaRuntime;
      schedules: ScheduleStore;
      connection: OpenedSagaDatabase;
    }> {
      const connection = await database.open();
      opened.push(connection);
      const schedules = connection.persistence.schedules;
      if (schedules === undefined) throw new Error(`${name}: the persistence has no schedules`);
      const runtime = new SagaRuntime({
        store: connection.store,
        sagas: [sagas.Reminder],
        schedules,
        ...runtimeOptions,
      });
      const bus = new Bus({
        transport: new MemoryTransport(),
        serviceName: prefix,
        persistence: connection.persistence,
        handlers: runtime.handlers,
        retry: { attempts: 2, backoff: constant(0) },
        outboxRelay: { pollIntervalMs: 20 },
      });
      running.push(bus);
      await bus.start();
      return { bus, runtime, schedules, connection };
    }

    async function stopService(service: { bus: Bus; connection: OpenedSagaDatabase }): Promise<void> {
      await service.bus.stop();
      running.splice(running.indexOf(service.bus), 1);
      await service.connection.close();
      opened.splice(opened.indexOf(service.connection), 1);
    }

    it('a timeout requested before a restart fires in the next process, and its schedule is gone', async function () {
      const sagas = reminderSaga();
      const first = await startService(sagas);
      await first.bus.publish(sagas.Start, { id: 'r1', afterMs: 1_500 });
      await waitFor(async () => (await first.runtime.get(sagas.sagaName, 'r1')) !== undefined, {
        message: 'the saga started',
      });
      const [pending] = (await first.runtime.get(sagas.sagaName, 'r1'))!.pendingTimeouts;
      expect(pending?.name).to.equal('due');
      const [row] = await first.schedules.list();
      expect(row?.envelope.type).to.equal('omnibus.saga.Timeout');
      expect(row?.deliverAt.getTime()).to.equal(pending?.dueAt.getTime());
      await stopService(first);

      const second = await startService(sagas);
      await waitFor(async () => (await second.runtime.get(sagas.sagaName, 'r1'))?.status === 'completed', {
        timeoutMs: 20_000,
        message: 'the timeout fired after the restart',
      });
      const done = await second.runtime.get<ReminderState>(sagas.sagaName, 'r1');
      expect(done?.state.fired).to.equal(true);
      expect(done?.pendingTimeouts).to.deep.equal([]);
      expect(await second.schedules.pending()).to.equal(0);
      expect(second.runtime.stats.staleTimeouts).to.equal(0);
      const { history } = inspectSaga((await second.connection.store.get(sagas.sagaName, 'r1'))!);
      expect(history.map((h) => [h.type, h.action, h.timeout, h.version])).to.deep.equal([
        [sagas.Start.type, 'started', undefined, 1],
        ['omnibus.saga.Timeout', 'completed', 'due', 2],
      ]);
    });

    it('a step that fails after requesting a timeout leaves no schedule: it commits with the state or not at all', async function () {
      const sagas = reminderSaga();
      const service = await startService(sagas);
      await service.bus.publish(sagas.Start, { id: 'r2', afterMs: 60_000, fail: true });
      await waitFor(() => service.bus.stats.deadLettered === 1, { message: 'the failed step dead-lettered' });
      expect(await service.runtime.get(sagas.sagaName, 'r2')).to.equal(undefined);
      expect(await service.schedules.pending()).to.equal(0);
    });

    it('completing the saga cancels its pending timeout', async function () {
      const sagas = reminderSaga();
      const service = await startService(sagas);
      await service.bus.publish(sagas.Start, { id: 'r3', afterMs: 60_000 });
      await waitFor(async () => (await service.schedules.pending()) === 1, {
        message: 'the timeout scheduled',
      });
      await service.bus.publish(sagas.Finish, { id: 'r3' });
      await waitFor(async () => (await service.schedules.pending()) === 0, {
        message: 'the timeout cancelled once the saga completed',
      });
      expect((await service.runtime.get(sagas.sagaName, 'r3'))?.status).to.equal('completed');
    });

    it('a step purges instances past their retention, outside its own transaction', async function () {
      const sagas = reminderSaga();
      let offsetMs = 0;
      const service = await startService(sagas, {
        clock: { now: () => Date.now() + offsetMs },
        retentionMs: 60_000,
        purgeIntervalMs: 1,
      });
      await service.bus.publish(sagas.Start, { id: 'old', afterMs: 3_600_000 });
      await waitFor(async () => (await service.runtime.get(sagas.sagaName, 'old')) !== undefined);
      await service.bus.publish(sagas.Finish, { id: 'old' });
      await waitFor(async () => (await service.runtime.get(sagas.sagaName, 'old'))?.status === 'completed');
      offsetMs = 61_000;
      await service.bus.publish(sagas.Start, { id: 'new', afterMs: 3_600_000 });
      await waitFor(() => service.runtime.stats.purged === 1, { message: 'the expired instance purged' });
      expect(await service.runtime.get(sagas.sagaName, 'old')).to.equal(undefined);
      expect((await service.runtime.get(sagas.sagaName, 'new'))?.status).to.equal('running');
    });
  });
}
