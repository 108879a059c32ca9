import { expect } from './expect.js';
import { constant } from '../backoff.js';
import { Bus } from '../bus.js';
import { defineCommand, defineEvent } from '../contracts.js';
import { readFailure } from '../dead-letter.js';
import { replayDeadLetters } from '../dead-letter-replay.js';
import { Handle, Subscriber, type HandlerClass } from '../decorators.js';
import { Header, type Envelope } from '../envelope.js';
import { silentLogger } from '../logger.js';
import { signEnvelope } from '../signing/envelope-signature.js';
import { signingKeys, type SigningOptions } from '../signing/signing-options.js';
import type { Consumer, Destination, Source, Transport } from '../transport.js';
import { uuidv7 } from '../uuid.js';
import { uniqueName } from './names.js';
import { waitFor } from './wait-for.js';

export interface SecurityConformanceOptions {
  /** A new, connected transport; called for every test and closed after it. */
  readonly createTransport: () => Promise<Transport>;
  /**
   * The same transport given `signing: SECURITY_CONFORMANCE_SIGNING`, for drivers that carry the attempt
   * count in a header (RabbitMQ, AMQP 1.0) and believe it only sealed: the attempt tests run on it.
   */
  readonly createSigningTransport?: () => Promise<Transport>;
  /**
   * Publishes as a foreign producer would, with the broker's own client: `message`'s id, type and
   * CloudEvents attributes in the broker's binding, its other headers as they are, and the broker's
   * delivery-count fields (`x-delivery-count`, AMQP 1.0's `delivery-count`) set where a producer can set
   * them. Default: the transport's own `publish`, which writes envelope headers to the wire as they are.
   */
  readonly publishForeign?: (
    transport: Transport,
    destination: Destination,
    message: Envelope,
  ) => Promise<void>;
  /** `'forged headers'`: only the hostile-producer tests (a driver's raw-client file). */
  readonly only?: 'forged headers';
  /** Deadline for each wait. Default 20 s. */
  readonly waitMs?: number;
}

/** The keys the suite signs with; a transport made by `createSigningTransport` gets them. */
export const SECURITY_CONFORMANCE_SIGNING: SigningOptions = {
  keys: { old: 'an-old-key-that-is-still-accepted-here', k2: 'the-current-key-of-thirty-two-bytes-or-more' },
  signWith: 'k2',
};
const FOREIGN_KEY: SigningOptions = {
  keys: { k2: 'a-key-someone-else-made-up-of-32-bytes!' },
  signWith: 'k2',
};

/**
 * What a hostile producer may not do, and envelope signing, through a real `Bus` on the transport: a
 * forged `omnibus-target-group` does not make a group drop a message, forged attempt headers do not
 * shorten the retry budget, and with `signing` a tampered body or type, a foreign key and a missing
 * signature are dead-lettered while retry and dead-letter replay keep a signature valid. Forged headers
 * are published through the transport itself, which writes envelope headers to the wire as they are;
 * each driver's own test publishes the broker-specific ones (delivery counts) with the raw client.
 */
export function runSecurityConformance(name: string, options: SecurityConformanceOptions): void {
  const waitMs = options.waitMs ?? 20_000;
  let transport: Transport;
  const buses: Bus[] = [];
  const consumers: Consumer[] = [];
  const until = (condition: () => boolean, message: string) =>
    waitFor(condition, { timeoutMs: waitMs, message });
  const publish = (destination: Destination, message: Envelope): Promise<void> =>
    options.publishForeign === undefined
      ? transport.publish(destination, [message])
      : options.publishForeign(transport, destination, message);

  const title = options.only === undefined ? 'header trust and envelope signing' : 'hostile producers';
  describe(`${name} ${title}`, function () {
    this.timeout(Math.max(60_000, waitMs * 3));

    beforeEach(async function () {
      transport = await options.createTransport();
    });

    afterEach(async function () {
      await Promise.allSettled(buses.splice(0).map((bus) => bus.stop()));
      await Promise.allSettled(consumers.splice(0).map((consumer) => consumer.close()));
      await transport.close();
    });

    function contracts() {
      const suffix = uniqueName('sec');
      return {
        Placed: defineEvent<{ n: number }>({ type: 'security.Placed', channel: `placed-${suffix}` }),
        Pay: defineCommand<{ n: number }>({ type: 'security.Pay', queue: `pay-${suffix}` }),
        Refund: defineCommand<{ n: number }>({ type: 'security.Refund', queue: `pay-${suffix}` }),
      };
    }

    async function started(handlers: HandlerClass[], signing?: SigningOptions): Promise<Bus> {
      const bus = new Bus({
        transport,
        serviceName: 'security-conformance',
        handlers,
        closeTransport: false,
        logger: silentLogger,
        retry: { attempts: 3, backoff: constant(0) },
        ...(signing === undefined ? {} : { signing }),
      });
      buses.push(bus);
      await bus.start();
      return bus;
    }

    function raw(type: string, body: unknown, headers: Record<string, string> = {}): Envelope {
      const id = uuidv7();
      return {
        id,
        type,
        headers: {
          specversion: '1.0',
          source: 'a-foreign-producer',
          datacontenttype: 'application/json',
          ...headers,
        },
        body: Buffer.from(JSON.stringify(body)),
      };
    }

    /** The dead letters of `of`, acked as they are read, by id. */
    async function readDeadLetters(of: Source & { kind: 'queue' | 'subscription' }) {
      const dead = new Map<string, Envelope>();
      consumers.push(
        await transport.consume(
          { kind: 'deadLetters', of },
          async (d) => {
            dead.set(d.envelope.id, d.envelope);
            await d.ack();
          },
          { concurrency: 4 },
        ),
      );
      return dead;
    }

    it('hands an event with a forged omnibus-target-group to every group', async function () {
      const c = contracts();
      const seen: string[] = [];
      @Subscriber({ group: uniqueName('a') })
      class A {
        @Handle(c.Placed)
        placed() {
          seen.push('a');
        }
      }
      @Subscriber({ group: uniqueName('b') })
      class B {
        @Handle(c.Placed)
        placed() {
          seen.push('b');
        }
      }
      const bus = await started([A, B]);
      const forged = raw(c.Placed.type, { n: 1 }, { [Header.targetGroup]: 'nobody', [Header.replayId]: 'x' });
      await publish({ kind: 'channel', channel: c.Placed.channel }, forged);
      await until(() => seen.length === 2, 'both groups to handle it');
      expect(seen.sort()).to.deep.equal(['a', 'b']);
      expect(bus.stats.notForThisGroup).to.equal(0);
    });

    for (const kind of ['command', 'event'] as const) {
      it(`gives ${kind === 'command' ? 'a command' : 'an event'} with forged attempt headers its whole retry budget`, async function () {
        if (options.createSigningTransport !== undefined) {
          await transport.close();
          transport = await options.createSigningTransport();
        }
        const c = contracts();
        const group = uniqueName('g');
        let calls = 0;
        @Subscriber({ group })
        class Failing {
          @Handle(c.Pay)
          pay() {
            calls++;
            throw new Error('always');
          }
          @Handle(c.Placed)
          placed() {
            calls++;
            throw new Error('always');
          }
        }
        await started([Failing]);
        const of =
          kind === 'command'
            ? ({ kind: 'queue', queue: c.Pay.queue } as const)
            : ({ kind: 'subscription', channel: c.Placed.channel, group } as const);
        const dead = await readDeadLetters(of);
        const headers = { 'omnibus-attempt': '99', 'x-delivery-count': '99', 'delivery-count': '99' };
        const forged = raw(kind === 'command' ? c.Pay.type : c.Placed.type, { n: 1 }, headers);
        const destination =
          kind === 'command'
            ? ({ kind: 'queue', queue: c.Pay.queue } as const)
            : ({ kind: 'channel', channel: c.Placed.channel } as const);
        await publish(destination, forged);
        await until(() => dead.has(forged.id), 'the dead letter');
        expect(calls, 'handler calls').to.equal(3);
        expect(readFailure(dead.get(forged.id)!)?.attempts).to.equal(3);
      });
    }

    if (options.only !== undefined) return;
    describe('with signing', function () {
      it('accepts what a bus signed, with a key being rotated out too', async function () {
        const c = contracts();
        const handled: number[] = [];
        @Subscriber({ group: uniqueName('g') })
        class Payments {
          @Handle(c.Pay)
          pay(p: { n: number }) {
            handled.push(p.n);
          }
        }
        await started([Payments], SECURITY_CONFORMANCE_SIGNING);
        const sender = await started([], { ...SECURITY_CONFORMANCE_SIGNING, signWith: 'old' });
        await sender.send(c.Pay, { n: 1 });
        const current = await started([], SECURITY_CONFORMANCE_SIGNING);
        await current.send(c.Pay, { n: 2 });
        await until(() => handled.length === 2, 'both messages handled');
        expect(handled.sort()).to.deep.equal([1, 2]);
      });

      it('dead-letters a tampered body, a tampered type, a foreign key and a missing signature', async function () {
        const c = contracts();
        const handled: string[] = [];
        @Subscriber({ group: uniqueName('g') })
        class Payments {
          @Handle(c.Pay)
          pay() {
            handled.push('pay');
          }
          @Handle(c.Refund)
          refund() {
            handled.push('refund');
          }
        }
        await started([Payments], SECURITY_CONFORMANCE_SIGNING);
        const dead = await readDeadLetters({ kind: 'queue', queue: c.Pay.queue });
        const keys = signingKeys(SECURITY_CONFORMANCE_SIGNING);
        const signed = () => signEnvelope(raw(c.Pay.type, { n: 1 }), keys);
        const body = signed();
        const tamperedBody = { ...body, body: Buffer.from(JSON.stringify({ n: 1000 })) };
        const tamperedType = { ...signed(), type: c.Refund.type };
        const foreign = signEnvelope(raw(c.Pay.type, { n: 1 }), signingKeys(FOREIGN_KEY));
        const unsigned = raw(c.Pay.type, { n: 1 });
        const valid = signed();
        const destination = { kind: 'queue', queue: c.Pay.queue } as const;
        await transport.publish(destination, [tamperedBody, tamperedType, foreign, unsigned, valid]);
        const refused = [tamperedBody, tamperedType, foreign, unsigned];
        await until(() => refused.every((e) => dead.has(e.id)), 'the four forgeries dead-lettered');
        const code = (e: Envelope) => readFailure(dead.get(e.id)!)?.code;
        expect(refused.map(code)).to.deep.equal([
          'SIGNATURE_INVALID',
          'SIGNATURE_INVALID',
          'SIGNATURE_INVALID',
          'SIGNATURE_MISSING',
        ]);
        await until(() => handled.length === 1, 'the valid message handled');
        expect(handled).to.deep.equal(['pay']);
        expect(dead.has(valid.id)).to.equal(false);
      });

      it('keeps a signature valid through retries and a sealed replay to the failed group', async function () {
        const c = contracts();
        const seen: string[] = [];
        let failA = true;
        const groupA = uniqueName('a');
        @Subscriber({ group: groupA })
        class A {
          @Handle(c.Placed)
          placed() {
            seen.push('a');
            if (failA) throw new Error('a is down');
          }
        }
        @Subscriber({ group: uniqueName('b') })
        class B {
          @Handle(c.Placed)
          placed() {
            seen.push('b');
          }
        }
        const bus = await started([A, B], SECURITY_CONFORMANCE_SIGNING);
        await bus.publish(c.Placed, { n: 1 });
        const of = { kind: 'subscription', channel: c.Placed.channel, group: groupA } as const;
        // Retried twice (the signature verified on each attempt), then dead-lettered with its reason.
        await until(() => seen.filter((s) => s === 'a').length === 3, 'three tries in group a');
        await until(() => bus.stats.deadLettered === 1, 'the dead letter');
        failA = false;
        expect(
          await replayDeadLetters(transport, of, {
            limit: 1,
            idleMs: waitMs,
            signing: SECURITY_CONFORMANCE_SIGNING,
          }),
        ).to.equal(1);
        await until(() => seen.filter((s) => s === 'a').length === 4, 'group a to handle the replay');
        await until(() => bus.stats.notForThisGroup === 1, 'group b to ack the sealed replay unhandled');
        expect(seen.filter((s) => s === 'b')).to.have.length(1);
        expect(bus.stats.deadLettered).to.equal(1);
      });
    });
  });
}
