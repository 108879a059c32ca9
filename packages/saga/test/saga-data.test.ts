import 'reflect-metadata';
import { expect } from 'chai';
import { defineCommand, defineEvent } from '@omnibus/core';
import type { SagaContext } from '../src/index.js';
import { Handles, Saga, StartedBy } from '../src/index.js';
import { SagaScenario } from '../src/testing/index.js';

const Booked = defineEvent<{ id: string; at: Date }>({ type: 'data-test.Booked', channel: 'data-test' });
const Abort = defineEvent<{ id: string }>({ type: 'data-test.Abort', channel: 'data-test' });
const Unbook = defineCommand<{ id: string; bookedAt: Date; notes: { at: Date }[] }>({
  type: 'data-test.Unbook',
  queue: 'data-test',
});

interface BookingState {
  bookedAt?: Date;
  lookalike?: { $date: number };
}

@Saga<BookingState>({ name: 'data-test', initial: () => ({}), compensations: [Unbook] })
class Booking {
  @StartedBy(Booked, { correlate: (e) => e.id })
  booked(e: { id: string; at: Date }, saga: SagaContext<BookingState>) {
    saga.state.bookedAt = e.at;
    saga.state.lookalike = { $date: 5 };
    saga.compensateWith(Unbook, { id: e.id, bookedAt: e.at, notes: [{ at: e.at }] });
  }

  @Handles(Abort, { correlate: (e) => e.id })
  async abort(_e: { id: string }, saga: SagaContext<BookingState>) {
    expect(saga.state.bookedAt).to.be.instanceOf(Date);
    await saga.compensate();
  }
}

describe('saga state document', function () {
  it('keeps Dates as Dates across steps: in the state and in recorded compensations', async function () {
    const scenario = new SagaScenario(Booking);
    const at = new Date('2026-03-04T05:06:07.089Z');
    await scenario.deliver(Booked, { id: 'b1', at });
    const state = await scenario.state<BookingState>('b1');
    expect(state?.bookedAt).to.be.instanceOf(Date);
    expect(state?.bookedAt?.getTime()).to.equal(at.getTime());
    expect(state?.lookalike, 'an object that only looks like a date stays as it is').to.deep.equal({
      $date: 5,
    });
    await scenario.deliver(Abort, { id: 'b1' });
    const [unbook] = scenario.sent(Unbook);
    expect(unbook?.bookedAt).to.be.instanceOf(Date);
    expect(unbook?.bookedAt.getTime()).to.equal(at.getTime());
    expect(unbook?.notes[0]?.at).to.be.instanceOf(Date);
  });
});
