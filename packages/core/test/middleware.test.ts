import { expect } from 'chai';
import type { HandlingContext, MessageContext, Middleware, Persistence } from '../src/index.js';
import { NonRetriableError, TimeoutError, compose } from '../src/index.js';
import type { Delivery } from '../src/transport/index.js';
import { currentMessageContext } from '../src/message-context.js';
import { correlation } from '../src/pipeline/correlation.js';
import { immediateRetry } from '../src/pipeline/immediate-retry.js';
import { timeout } from '../src/pipeline/timeout.js';
import { unitOfWork } from '../src/pipeline/unit-of-work.js';

function handling(options: HandlingContext['options'] = {}): HandlingContext {
  const handlerContext = {
    messageId: 'm1',
    signal: new AbortController().signal,
    tx: undefined,
  } as unknown as MessageContext;
  return {
    delivery: {} as Delivery,
    envelope: { id: 'm1', type: 't', headers: {}, body: new Uint8Array() },
    contract: { kind: 'command', type: 't', queue: 'q', ordered: false },
    options,
    payload: {},
    triesBefore: 0,
    calls: 0,
    outgoing: [],
    scheduled: [],
    duplicate: false,
    handlerContext,
  };
}

describe('middleware', function () {
  describe('compose', function () {
    it('runs middleware outermost first around the terminal', async function () {
      const order: string[] = [];
      const layer =
        (name: string): Middleware =>
        async (_ctx, next) => {
          order.push(`${name}>`);
          await next();
          order.push(`<${name}`);
        };
      await compose([layer('a'), layer('b')], async () => void order.push('handler'))(handling());
      expect(order).to.deep.equal(['a>', 'b>', 'handler', '<b', '<a']);
    });
  });

  describe('correlation', function () {
    it('makes the message context ambient for everything the handler calls', async function () {
      const ctx = handling();
      let seen: MessageContext | undefined;
      await correlation(ctx, async () => {
        await Promise.resolve();
        seen = currentMessageContext();
      });
      expect(seen).to.equal(ctx.handlerContext);
      expect(currentMessageContext()).to.equal(undefined);
    });
  });

  describe('timeout', function () {
    it('fails with a TimeoutError and aborts the signal when the handler runs too long', async function () {
      const ctx = handling({ timeoutMs: 20 });
      let signal: AbortSignal | undefined;
      const error = await timeout(undefined)(ctx, async () => {
        signal = ctx.handlerContext.signal;
        await new Promise<void>((resolve) => signal!.addEventListener('abort', () => resolve()));
      }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(TimeoutError);
      expect(signal?.aborted).to.equal(true);
    });

    it('lets a handler within its time through, and does nothing without a timeout', async function () {
      const ctx = handling({ timeoutMs: 1_000 });
      await timeout(undefined)(ctx, async () => undefined);
      const plain = handling();
      const signal = plain.handlerContext.signal;
      await timeout(undefined)(plain, async () => {
        expect(plain.handlerContext.signal).to.equal(signal);
      });
    });
  });

  describe('immediate retry', function () {
    it('retries retriable failures in place up to the limit', async function () {
      let calls = 0;
      await immediateRetry(handling({ retry: { immediate: 2 } }), async () => {
        if (++calls < 3) throw new Error('blip');
      });
      expect(calls).to.equal(3);
      calls = 0;
      const error = await immediateRetry(handling({ retry: { immediate: 1 } }), async () => {
        calls++;
        throw new Error('still failing');
      }).catch((e: unknown) => e);
      expect((error as Error).message).to.equal('still failing');
      expect(calls).to.equal(2);
    });

    it('does not retry a non-retriable error', async function () {
      let calls = 0;
      await immediateRetry(handling({ retry: { immediate: 5 } }), async () => {
        calls++;
        throw new NonRetriableError('no');
      }).catch(() => undefined);
      expect(calls).to.equal(1);
    });
  });

  describe('unit of work', function () {
    function recordingPersistence(seen: Set<string>) {
      const log: string[] = [];
      const persistence: Persistence<string> = {
        unitOfWork: {
          async transaction(work) {
            log.push('begin');
            try {
              const result = await work('tx-1');
              log.push('commit');
              return result;
            } catch (error) {
              log.push('rollback');
              throw error;
            }
          },
        },
        inbox: {
          async record(_tx, group, id) {
            const key = `${group}/${id}`;
            if (seen.has(key)) return false;
            seen.add(key);
            return true;
          },
          async purge() {
            return 0;
          },
        },
        outbox: {
          async add(tx, messages) {
            log.push(`outbox(${tx}):${messages.length}`);
          },
        },
      };
      return { persistence: persistence as Persistence, log };
    }

    it('runs the handler in a transaction with its outbox rows and exposes tx', async function () {
      const { persistence, log } = recordingPersistence(new Set());
      const ctx = handling();
      await unitOfWork(persistence, 'g')(ctx, async () => {
        expect(ctx.handlerContext.tx).to.equal('tx-1');
        ctx.outgoing.push({ destination: { kind: 'queue', queue: 'q' }, envelope: ctx.envelope });
      });
      expect(log).to.deep.equal(['begin', 'outbox(tx-1):1', 'commit']);
      expect(ctx.handlerContext.tx).to.equal(undefined);
    });

    it('skips the handler of a duplicate and rolls back a failure', async function () {
      const seen = new Set(['g/m1']);
      const { persistence, log } = recordingPersistence(seen);
      const ctx = handling();
      let ran = false;
      await unitOfWork(persistence, 'g')(ctx, async () => void (ran = true));
      expect(ran).to.equal(false);
      expect(ctx.duplicate).to.equal(true);
      seen.clear();
      await unitOfWork(persistence, 'g')(handling(), async () => {
        throw new Error('handler failed');
      }).catch(() => undefined);
      expect(log.slice(-2)).to.deep.equal(['begin', 'rollback']);
    });
  });
});
