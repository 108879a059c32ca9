import { expect } from 'chai';
import type { FailedAttempt, FailureOutcome, ResolvedRetryPolicy } from '../src/failure-policy.js';
import { conflictOutcome, failureOutcome, isConflict, triesBefore } from '../src/failure-policy.js';
import {
  CircuitOpenError,
  ConcurrencyError,
  DeserializationError,
  NonRetriableError,
  PersistenceUnavailableError,
  TimeoutError,
} from '../src/index.js';

/** `backoff(delivery) = delivery * 10`, so the table shows which delivery the delay was computed for. */
const policy = (attempts: number, immediate = 0): ResolvedRetryPolicy => ({
  attempts,
  immediate,
  backoff: (delivery) => delivery * 10,
});
const options = { circuitCooldownMs: 30_000 };
const unavailable = new PersistenceUnavailableError('db down');

describe('failure policy', function () {
  const table: [string, unknown, FailedAttempt, ResolvedRetryPolicy, FailureOutcome | string][] = [
    [
      'a retriable error with tries left: retry after backoff(delivery)',
      new Error('blip'),
      { delivery: 1, before: 0, calls: 1 },
      policy(3),
      { kind: 'retry', delayMs: 10, tries: 1 },
    ],
    [
      'the last try: dead-letter with the tries made',
      new Error('blip'),
      { delivery: 3, before: 2, calls: 1 },
      policy(3),
      'deadLetter:HANDLER_ERROR:3',
    ],
    [
      'immediate retries are tries: 2 calls in delivery 2 after 2 before is 4 of 4',
      new Error('blip'),
      { delivery: 2, before: 2, calls: 2 },
      policy(4, 1),
      'deadLetter:HANDLER_ERROR:4',
    ],
    [
      'a non-retriable error on the first try: dead-letter at once',
      new NonRetriableError('no'),
      { delivery: 1, before: 0, calls: 1 },
      policy(5),
      'deadLetter:NON_RETRIABLE:1',
    ],
    [
      'a decoder failure before the handler is one try',
      new DeserializationError('garbage', { code: 'MALFORMED_BODY' }),
      { delivery: 1, before: 0, calls: 0 },
      policy(5),
      'deadLetter:MALFORMED_BODY:1',
    ],
    [
      'a retriable failure before the handler (registry unreachable) spends one try',
      new TimeoutError('registry'),
      { delivery: 1, before: 0, calls: 0 },
      policy(5),
      { kind: 'retry', delayMs: 10, tries: 1 },
    ],
    [
      'an open circuit: retry after the cool-down, no try spent',
      new CircuitOpenError('open'),
      { delivery: 7, before: 2, calls: 0 },
      policy(3),
      { kind: 'retry', delayMs: 30_000, tries: 2 },
    ],
    [
      'an unavailable database: retry with backoff capped at the attempts, no try spent, never a dead letter',
      unavailable,
      { delivery: 9, before: 2, calls: 0 },
      policy(3),
      { kind: 'retry', delayMs: 30, tries: 2 },
    ],
    [
      'a thrown non-error is retriable',
      'oops',
      { delivery: 1, before: 0, calls: 1 },
      policy(2),
      { kind: 'retry', delayMs: 10, tries: 1 },
    ],
  ];
  for (const [what, error, attempt, retry, expected] of table) {
    it(what, function () {
      const outcome = failureOutcome(error, attempt, retry, options);
      if (typeof expected === 'string') {
        expect(outcome.kind).to.equal('deadLetter');
        if (outcome.kind !== 'deadLetter') return;
        expect(`deadLetter:${outcome.error.code}:${outcome.attempts}`).to.equal(expected);
      } else {
        expect(outcome).to.deep.equal(expected);
      }
    });
  }

  it('estimates the tries of earlier deliveries it did not see as all used, leaving this one at least one', function () {
    expect(triesBefore(1, 7, policy(5))).to.equal(0);
    expect(triesBefore(2, 1, policy(5, 2))).to.equal(1);
    expect(triesBefore(2, undefined, policy(5, 1))).to.equal(2);
    expect(triesBefore(4, undefined, policy(5, 1))).to.equal(4);
  });

  it('runs a lost optimistic-concurrency update again after a jittered delay, and gives up loudly past the cap', function () {
    const conflicts = { maxRetries: 3, backoff: (n: number) => n * 7 };
    const lost = new ConcurrencyError('saga o1 moved to version 4');
    expect(isConflict(lost)).to.equal(true);
    expect(isConflict(new Error('x'))).to.equal(false);
    expect(conflictOutcome(1, lost, conflicts)).to.deep.equal({ kind: 'rerun', delayMs: 7 });
    expect(conflictOutcome(3, lost, conflicts)).to.deep.equal({ kind: 'rerun', delayMs: 21 });
    const outcome = conflictOutcome(4, lost, conflicts);
    expect(outcome.kind).to.equal('giveUp');
    if (outcome.kind !== 'giveUp') return;
    expect(outcome.error).to.include({ code: 'CONCURRENCY_CONFLICT', retriable: false, cause: lost });
    expect(outcome.error.message).to.include('4 optimistic-concurrency conflicts');
    expect(isConflict(outcome.error)).to.equal(false, 'a give-up is not run again');
    const dead = failureOutcome(outcome.error, { delivery: 1, before: 0, calls: 0 }, policy(5), options);
    expect(dead).to.include({ kind: 'deadLetter', attempts: 1 });
  });
});
