import { expect } from './expect.js';
import { Bus } from '../bus.js';
import type { QueryContract } from '../contracts.js';
import { defineCommand, defineQuery } from '../contracts.js';
import { Handle, Subscriber } from '../decorators.js';
import type { HandlerClass } from '../decorators.js';
import type { Envelope } from '../envelope.js';
import { CLOUDEVENTS_SPEC_VERSION, Header } from '../envelope.js';
import { NonRetriableError, TimeoutError } from '../errors.js';
import { silentLogger } from '../logger.js';
import type { MessageContext } from '../message-context.js';
import { ReplyHeader, replyTypeOf } from '../request-reply/reply-headers.js';
import { supportsReplies } from '../request-reply/reply-transport.js';
import { NoResponderError, RemoteError, RequestAbortedError } from '../request-reply/request-errors.js';
import type { Transport } from '../transport.js';
import { uuidv7 } from '../uuid.js';
import { uniqueName } from './names.js';
import { waitFor } from './wait-for.js';

export interface RequestReplyConformanceOptions {
  /**
   * A new transport for one bus instance; called several times per test (a responder, a requester, a
   * forger), and every transport is closed after the test. Transports that are brokers of their own
   * (memory) return one instance per test.
   */
  readonly createTransport: () => Promise<Transport>;
  /**
   * Whether publishing a request to a queue that does not exist fails at once (`NoResponderError`); the
   * no-responder test then expects that, else a `TimeoutError`.
   */
  readonly failsFastWithoutResponder: boolean;
  /** Deadline for each wait. Default 20 s. */
  readonly waitMs?: number;
}

interface Question {
  readonly n: number;
  readonly fail?: 'typed' | 'plain';
  /** The handler waits until the test opens this gate (by name) before answering. */
  readonly hold?: string;
}
interface Answer {
  readonly doubled: number;
  readonly correlationId: string;
  readonly causationId: string | null;
}

/**
 * Request/reply over one transport, through two buses (a responder and a requester, each with its own
 * transport as two service instances would have): replies, remote errors, timeouts, late, forged and
 * garbage replies, the no-responder case, abort, and correlation through `ctx.request`.
 */
export function runRequestReplyConformance(name: string, options: RequestReplyConformanceOptions): void {
  const waitMs = options.waitMs ?? 20_000;
  const transports: Transport[] = [];
  const buses: Bus[] = [];
  const gates = new Map<string, () => void>();
  const held = new Set<string>();

  describe(`${name} request/reply conformance`, function () {
    this.timeout(Math.max(60_000, waitMs * 3));

    afterEach(async function () {
      for (const open of gates.values()) open();
      gates.clear();
      held.clear();
      await Promise.allSettled(buses.splice(0).map((bus) => bus.stop()));
      await Promise.allSettled(transports.splice(0).map((transport) => transport.close()));
    });

    async function transport(): Promise<Transport> {
      const created = await options.createTransport();
      transports.push(created);
      return created;
    }

    function query(): QueryContract<Question, Answer> {
      return defineQuery<Question, Answer>({ type: 'conformance.Double', queue: uniqueName('rq') });
    }

    /** A started bus on a transport of its own, with `handlers`. */
    async function bus(handlers: HandlerClass[], extra: { includeStack?: boolean } = {}): Promise<Bus> {
      const started = new Bus({
        transport: await transport(),
        serviceName: uniqueName('svc'),
        handlers,
        logger: silentLogger,
        closeTransport: false,
        drainTimeoutMs: 1_000,
        ...(extra.includeStack === undefined ? {} : { replies: { includeStack: extra.includeStack } }),
      });
      buses.push(started);
      await started.start();
      return started;
    }

    function responderFor(contract: QueryContract<Question, Answer>): HandlerClass {
      @Subscriber({ group: uniqueName('responder') })
      class Responder {
        @Handle(contract, { retry: { attempts: 1 } })
        async double(question: Question, ctx: MessageContext): Promise<Answer> {
          if (question.hold !== undefined) {
            held.add(question.hold);
            await new Promise<void>((resolve) => gates.set(question.hold!, resolve));
          }
          if (question.fail === 'typed')
            throw new NonRetriableError(`cannot double ${question.n}`, { code: 'NOT_DOUBLING' });
          if (question.fail === 'plain') throw new Error('plain failure');
          return {
            doubled: question.n * 2,
            correlationId: ctx.correlationId,
            causationId: ctx.causationId ?? null,
          };
        }
      }
      return Responder;
    }

    async function pair(extra: { includeStack?: boolean } = {}) {
      const contract = query();
      const responder = await bus([responderFor(contract)], extra);
      const requester = await bus([]);
      return { contract, responder, requester };
    }

    const until = (condition: () => boolean, message: string) =>
      waitFor(condition, { timeoutMs: waitMs, message });

    async function failure(promise: Promise<unknown>): Promise<unknown> {
      try {
        await promise;
      } catch (error) {
        return error;
      }
      throw new Error('expected the request to fail');
    }

    it('answers each request with its own reply', async function () {
      const { contract, requester } = await pair();
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, n) => requester.request(contract, { n }, { timeoutMs: waitMs })),
      );
      expect(answers.map((answer) => answer.doubled)).to.deep.equal(
        Array.from({ length: 20 }, (_, n) => n * 2),
      );
      expect(requester.stats).to.include({ unknownReplies: 0, lateReplies: 0, malformedReplies: 0 });
    });

    it('sends a handler failure back as a RemoteError with its code, without the stack', async function () {
      const { contract, requester, responder } = await pair();
      const typed = await failure(
        requester.request(contract, { n: 1, fail: 'typed' }, { timeoutMs: waitMs }),
      );
      expect(typed).to.be.instanceOf(RemoteError);
      expect(typed).to.include({ code: 'REMOTE_ERROR', remoteCode: 'NOT_DOUBLING', retriable: false });
      expect((typed as RemoteError).message).to.equal('cannot double 1');
      expect((typed as RemoteError).remoteStack).to.equal(undefined);
      expect((typed as RemoteError).service).to.equal(responder.serviceName);
      const plain = await failure(
        requester.request(contract, { n: 2, fail: 'plain' }, { timeoutMs: waitMs }),
      );
      expect(plain).to.include({ remoteCode: 'HANDLER_ERROR', retriable: true, message: 'plain failure' });
      expect(responder.stats.failedQueries).to.equal(2);
      expect(responder.stats.deadLettered).to.equal(0);
    });

    it('includes the stack in remote errors when the responder says so', async function () {
      const { contract, requester } = await pair({ includeStack: true });
      const error = await failure(
        requester.request(contract, { n: 1, fail: 'plain' }, { timeoutMs: waitMs }),
      );
      expect((error as RemoteError).remoteStack)
        .to.be.a('string')
        .and.include('plain failure');
    });

    it('times out without a reply, and drops and counts the reply that comes late', async function () {
      const { contract, requester } = await pair();
      const gate = uniqueName('late');
      const error = await failure(requester.request(contract, { n: 3, hold: gate }, { timeoutMs: 300 }));
      expect(error).to.be.instanceOf(TimeoutError);
      expect(requester.stats.timedOutRequests).to.equal(1);
      await until(() => gates.has(gate), 'the responder to hold the request');
      gates.get(gate)!();
      await until(() => requester.stats.lateReplies === 1, 'the late reply to be counted');
      // The next caller gets its own answer, not the late one.
      expect((await requester.request(contract, { n: 4 }, { timeoutMs: waitMs })).doubled).to.equal(8);
      const health = await requester.health();
      expect((health.details!['replies'] as { pending: number }).pending).to.equal(0);
    });

    it('drops forged and garbage replies, and the caller still gets its own', async function () {
      const { contract, requester } = await pair();
      expect((await requester.request(contract, { n: 1 }, { timeoutMs: waitMs })).doubled).to.equal(2);
      const address = ((await requester.health()).details!['replies'] as { address: string }).address;
      const forger = await transport();
      if (!supportsReplies(forger)) throw new Error(`${forger.name} does not support replies`);
      const gate = uniqueName('forged');
      const id = uuidv7();
      const asked = requester.request(contract, { n: 5, hold: gate }, { timeoutMs: waitMs, id });
      await until(() => gates.has(gate), 'the responder to hold the request');
      const forged = (headers: Record<string, string>, type = replyTypeOf(contract.type)): Envelope => ({
        id: uuidv7(),
        type,
        headers: {
          [Header.specVersion]: CLOUDEVENTS_SPEC_VERSION,
          [Header.contentType]: 'application/json',
          [ReplyHeader.status]: 'ok',
          ...headers,
        },
        body: Buffer.from(JSON.stringify({ doubled: -1, correlationId: 'forged', causationId: null })),
      });
      // A reply to a request nobody made; the right id with the wrong type; not a reply at all; garbage.
      await forger.publishReply(address, forged({ [ReplyHeader.inReplyTo]: uuidv7() }));
      await forger.publishReply(address, forged({ [ReplyHeader.inReplyTo]: id }, 'conformance.Other'));
      await forger.publishReply(address, forged({}));
      await forger.publishReply(address, {
        id: '',
        type: '',
        headers: {},
        body: Buffer.from([0xff, 0x00, 0x13]),
      });
      await until(
        () => requester.stats.unknownReplies === 1 && requester.stats.malformedReplies === 3,
        'the forged replies to be counted',
      );
      gates.get(gate)!();
      expect((await asked).doubled).to.equal(10);
      expect((await requester.request(contract, { n: 6 }, { timeoutMs: waitMs })).doubled).to.equal(12);
    });

    it('refuses to send a reply to an address that is not a reply address', async function () {
      const forger = await transport();
      if (!supportsReplies(forger)) throw new Error(`${forger.name} does not support replies`);
      const error = await failure(
        forger.publishReply(uniqueName('not-a-reply-address'), {
          id: uuidv7(),
          type: 'conformance.Double.reply',
          headers: {},
          body: Buffer.from('{}'),
        }),
      );
      expect(error).to.include({ code: 'INVALID_REPLY_ADDRESS', retriable: false });
    });

    it(`${options.failsFastWithoutResponder ? 'fails fast' : 'times out'} when nothing consumes the query's queue`, async function () {
      const requester = await bus([]);
      const error = await failure(requester.request(query(), { n: 1 }, { timeoutMs: 2_000 }));
      if (options.failsFastWithoutResponder) {
        expect(error).to.be.instanceOf(NoResponderError);
        expect(error).to.include({ code: 'NO_RESPONDER' });
      } else {
        expect(error).to.be.instanceOf(TimeoutError);
      }
      expect((await requester.health()).details!['replies']).to.include({ pending: 0 });
    });

    it('rejects with RequestAbortedError when the signal aborts, and forgets the request', async function () {
      const { contract, requester } = await pair();
      const gate = uniqueName('abort');
      const controller = new AbortController();
      const asked = requester.request(
        contract,
        { n: 1, hold: gate },
        { timeoutMs: waitMs, signal: controller.signal },
      );
      await until(() => gates.has(gate), 'the responder to hold the request');
      controller.abort(new Error('caller gave up'));
      const error = await failure(asked);
      expect(error).to.be.instanceOf(RequestAbortedError);
      expect(error).to.include({ code: 'REQUEST_ABORTED' });
      gates.get(gate)!();
      await until(() => requester.stats.lateReplies === 1, 'the reply after the abort to be dropped');
    });

    it('keeps correlation and causation through ctx.request', async function () {
      const contract = query();
      await bus([responderFor(contract)]);
      const Start = defineCommand<{ n: number }>({ type: 'conformance.Start', queue: uniqueName('rq') });
      const seen: { answer?: Answer } = {};
      @Subscriber({ group: uniqueName('asker') })
      class Asker {
        @Handle(Start, { retry: { attempts: 1 } })
        async start(command: { n: number }, ctx: MessageContext): Promise<void> {
          seen.answer = await ctx.request(contract, { n: command.n }, { timeoutMs: waitMs });
        }
      }
      const asker = await bus([Asker]);
      const id = uuidv7();
      await asker.send(Start, { n: 21 }, { id });
      await until(() => seen.answer !== undefined, 'the asking handler to get its answer');
      expect(seen.answer).to.deep.equal({ doubled: 42, correlationId: id, causationId: id });
    });
  });
}
