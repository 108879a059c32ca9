import { expect } from './expect.js';
import type { Envelope } from '../envelope.js';
import { Header } from '../envelope.js';
import { isOmnibusError } from '../errors.js';
import { readFailure } from '../dead-letter.js';
import { replayDeadLetters } from '../dead-letter-replay.js';
import type { Consumer, Delivery, DeliverySink, Destination, Source, Transport } from '../transport.js';
import { uuidv7 } from '../uuid.js';
import { uniqueName } from './names.js';
import { runSecurityConformance } from './security-conformance.js';
import { waitFor } from './wait-for.js';

export interface TransportConformanceOptions {
  /** A new, connected transport; called for every test and closed after it. */
  readonly createTransport: () => Promise<Transport>;
  /**
   * The same transport, constructed and not connected (`connect()` not called): every transport connects
   * on first use, which the suite checks with it.
   */
  readonly createUnconnectedTransport: () => Transport | Promise<Transport>;
  /** See `SecurityConformanceOptions.createSigningTransport`. */
  readonly createSigningTransport?: () => Promise<Transport>;
  /** Stops and starts the broker, keeping its data; the reconnect test is skipped without it. */
  readonly restartBroker?: () => Promise<void>;
  /** Messages in the reconnect test. Default 10,000. */
  readonly reconnectMessages?: number;
  /** Deadline for each wait. Default 20 s. */
  readonly waitMs?: number;
  /** Largest body the large-message test sends. Default 1 MiB (the broker's limit when lower). */
  readonly largeMessageBytes?: number;
}

/** What the suite skipped and why, printed once at the end of the run. */
const skipped: string[] = [];

/**
 * The one conformance suite every transport passes, after Watermill's universal pub/sub tests. Each test
 * runs on freshly named channels, queues and groups; a capability flag skips a test only where the
 * broker lacks the feature, and every skip is printed with its reason.
 */
export function runTransportConformance(name: string, options: TransportConformanceOptions): void {
  const waitMs = options.waitMs ?? 20_000;
  let transport: Transport;
  const consumers: Consumer[] = [];
  const extraTransports: Transport[] = [];

  describe(`${name} transport conformance`, function () {
    this.timeout(Math.max(60_000, waitMs * 3));

    beforeEach(async function () {
      transport = await options.createTransport();
    });

    afterEach(async function () {
      await Promise.allSettled(consumers.splice(0).map((consumer) => consumer.close()));
      await Promise.allSettled([transport, ...extraTransports.splice(0)].map((t) => t.close()));
    });

    after(function () {
      const mine = skipped.filter((line) => line.startsWith(`${name}:`));
      if (mine.length > 0)
        console.log(`\n  ${name} conformance skipped ${mine.length}:\n    ${mine.join('\n    ')}`);
    });

    function skipUnless(context: Mocha.Context, condition: boolean, reason: string): void {
      if (condition) return;
      skipped.push(`${name}: ${context.test?.title ?? '?'}: ${reason}`);
      context.skip();
    }

    async function consume(source: Source, sink: DeliverySink, concurrency = 4, on: Transport = transport) {
      const consumer = await on.consume(source, track(sink), { concurrency });
      consumers.push(consumer);
      return consumer;
    }

    async function channelWithGroups(groups: string[], ordered = false) {
      const channel = uniqueName('ch');
      await transport.provision({
        channels: [{ name: channel, ordered }],
        subscriptions: groups.map((group) => ({ channel, group })),
      });
      const destination: Destination = { kind: 'channel', channel };
      const sources = groups.map((group): Source => ({ kind: 'subscription', channel, group }));
      return { channel, destination, sources };
    }

    async function queue(ordered = false) {
      const name = uniqueName('q');
      await transport.provision({ queues: [{ name, ordered }] });
      return {
        destination: { kind: 'queue', queue: name } as Destination,
        source: { kind: 'queue', queue: name } as Source,
      };
    }

    const until = (condition: () => boolean, message: string) =>
      waitFor(condition, { timeoutMs: waitMs, message });

    /**
     * Markers: the sinks below ack a message of type `conformance.Marker` and note its id. Publishing one
     * after everything else and waiting for it proves the consumer has worked through what came before,
     * so an assertion of "no duplicate" is made after the queue is drained, not after a guessed sleep.
     */
    const markers = new Set<string>();
    async function drained(destination: Destination): Promise<void> {
      const marker = envelope({ type: MARKER });
      await transport.publish(destination, [marker]);
      await until(() => markers.has(marker.id), 'the drain marker');
    }
    function track(sink: DeliverySink): DeliverySink {
      return async (d) => {
        if (d.envelope.type === MARKER) {
          markers.add(d.envelope.id);
          return d.ack();
        }
        return sink(d);
      };
    }

    it('publishes and subscribes', async function () {
      const { destination, sources } = await channelWithGroups([uniqueName('g')]);
      const received = new Map<string, Envelope>();
      await consume(sources[0]!, ackInto(received));
      const sent = envelopes(50);
      await transport.publish(destination, sent);
      await until(() => received.size === sent.length, `${sent.length} messages`);
      for (const envelope of sent) {
        const got = received.get(envelope.id)!;
        expect(got.type).to.equal(envelope.type);
        expect(Buffer.from(got.body).toString()).to.equal(Buffer.from(envelope.body).toString());
      }
    });

    it('connects on first use: provision, consume and publish without connect()', async function () {
      // Each memory transport is a broker of its own, so the never-connected transport provisions what it
      // uses itself; consume or publish as the first call are driver tests where that matters.
      const fresh = await options.createUnconnectedTransport();
      extraTransports.push(fresh);
      const name = uniqueName('q');
      await fresh.provision({ queues: [{ name }] });
      const received = new Map<string, Envelope>();
      await consume({ kind: 'queue', queue: name }, ackInto(received), 4, fresh);
      const sent = envelopes(5);
      await fresh.publish({ kind: 'queue', queue: name }, sent);
      await until(
        () => sent.every((e) => received.has(e.id)),
        'messages through a never-connected transport',
      );
    });

    it('subscribes concurrently', async function () {
      const { destination, sources } = await channelWithGroups([uniqueName('g')]);
      const received = new Map<string, Envelope>();
      await Promise.all([1, 2, 3].map(() => consume(sources[0]!, ackInto(received))));
      const sent = envelopes(60);
      await transport.publish(destination, sent);
      await until(() => sent.every((e) => received.has(e.id)), 'every message, at least once');
    });

    it('keeps many channels apart', async function () {
      const setups = await Promise.all([1, 2, 3, 4, 5].map(() => channelWithGroups([uniqueName('g')])));
      const received = setups.map(() => new Map<string, Envelope>());
      await Promise.all(setups.map((setup, i) => consume(setup.sources[0]!, ackInto(received[i]!))));
      const sent = setups.map(() => envelopes(20));
      await Promise.all(setups.map((setup, i) => transport.publish(setup.destination, sent[i]!)));
      await until(() => received.every((r, i) => r.size >= sent[i]!.length), 'each channel complete');
      received.forEach((r, i) =>
        expect([...r.keys()].sort()).to.deep.equal(sent[i]!.map((e) => e.id).sort()),
      );
    });

    it('keeps a channel and a queue of one name apart', async function () {
      // The sample names its inventory channel and its inventory command queue alike; on brokers with one
      // namespace for both (Kafka topics, Artemis addresses) they must still be two destinations.
      const name = uniqueName('same');
      const group = uniqueName('g');
      await transport.provision({
        channels: [{ name }],
        subscriptions: [{ channel: name, group }],
        queues: [{ name }],
      });
      const onChannel = new Map<string, Envelope>();
      const onQueue = new Map<string, Envelope>();
      await consume({ kind: 'subscription', channel: name, group }, ackInto(onChannel));
      await consume({ kind: 'queue', queue: name }, ackInto(onQueue));
      const events = envelopes(10);
      const commands = envelopes(10);
      await transport.publish({ kind: 'channel', channel: name }, events);
      await transport.publish({ kind: 'queue', queue: name }, commands);
      await drained({ kind: 'channel', channel: name });
      await drained({ kind: 'queue', queue: name });
      await until(() => onChannel.size >= 10 && onQueue.size >= 10, 'both destinations complete');
      expect([...onChannel.keys()].sort()).to.deep.equal(events.map((e) => e.id).sort());
      expect([...onQueue.keys()].sort()).to.deep.equal(commands.map((e) => e.id).sort());
    });

    it('fans out to every subscriber group', async function () {
      skipUnless(this, transport.capabilities.consumerGroups, 'no consumer groups');
      const { destination, sources } = await channelWithGroups([uniqueName('a'), uniqueName('b')]);
      const a = new Map<string, Envelope>();
      const b = new Map<string, Envelope>();
      await consume(sources[0]!, ackInto(a));
      await consume(sources[1]!, ackInto(b));
      const sent = envelopes(30);
      await transport.publish(destination, sent);
      await until(() => a.size === 30 && b.size === 30, 'both groups to get all 30');
    });

    for (const [title, kind] of [
      ['lets members of one group compete: each message once', 'subscription'],
      ['shares a command queue between competing consumers: each message once', 'queue'],
    ] as const) {
      it(title, async function () {
        const { destination, source } =
          kind === 'queue'
            ? await queue()
            : await channelWithGroups([uniqueName('g')]).then((c) => ({
                destination: c.destination,
                source: c.sources[0]!,
              }));
        const counts = new Map<string, number>();
        const sink: DeliverySink = async (d) => {
          counts.set(d.envelope.id, (counts.get(d.envelope.id) ?? 0) + 1);
          await d.ack();
        };
        await consume(source, sink);
        await consume(source, sink);
        const sent = envelopes(60);
        await transport.publish(destination, sent);
        await until(() => counts.size === 60, 'all 60');
        await drained(destination);
        expect(
          [...counts.values()].every((n) => n === 1),
          'no message handled twice',
        ).to.equal(true);
      });
    }

    it('retries with a rising attempt count', async function () {
      const { destination, source } = await queue();
      const attempts: number[] = [];
      await consume(source, async (d) => {
        attempts.push(d.attempt);
        await (d.attempt < 3 ? d.retry(0) : d.ack());
      });
      await transport.publish(destination, envelopes(1));
      await until(() => attempts.length === 3, 'three deliveries');
      expect(attempts).to.deep.equal([1, 2, 3]);
    });

    it('redelivers what was not settled when its consumer closed', async function () {
      const { destination, source } = await queue();
      const first: Envelope[] = [];
      const consumer = await consume(source, async (d) => {
        first.push(d.envelope); // never settled
      });
      const [sent] = envelopes(1);
      await transport.publish(destination, [sent!]);
      await until(() => first.length === 1, 'the first delivery');
      await consumer.close();
      const again = new Map<string, Envelope>();
      await consume(source, ackInto(again));
      await until(() => again.has(sent!.id), 'the unsettled message delivered again');
    });

    it('continues after a consumer closes and another opens', async function () {
      const { destination, sources } = await channelWithGroups([uniqueName('g')]);
      const received = new Map<string, Envelope>();
      const consumer = await consume(sources[0]!, ackInto(received));
      const before = envelopes(10);
      await transport.publish(destination, before);
      await until(() => received.size === 10, 'the first 10');
      await consumer.close();
      const after = envelopes(10);
      await transport.publish(destination, after);
      await consume(sources[0]!, ackInto(received));
      await until(() => after.every((e) => received.has(e.id)), 'the 10 published while no consumer ran');
    });

    it('closes many consumers concurrently', async function () {
      const { sources } = await channelWithGroups([uniqueName('a'), uniqueName('b'), uniqueName('c')]);
      const opened = await Promise.all(sources.map((source) => consume(source, async (d) => d.ack())));
      await Promise.all(opened.map((consumer) => consumer.close()));
      await Promise.all(opened.map((consumer) => consumer.close())); // idempotent
      const { destination, source } = await queue();
      const received = new Map<string, Envelope>();
      await consume(source, ackInto(received));
      await transport.publish(destination, envelopes(3));
      await until(() => received.size === 3, 'the transport to work on after the closes');
    });

    it('keeps going after many errors', async function () {
      const { destination, source } = await queue();
      const failures = new Map<string, number>();
      const done = new Set<string>();
      await consume(source, async (d) => {
        const failed = failures.get(d.envelope.id) ?? 0;
        if (failed < 3) {
          failures.set(d.envelope.id, failed + 1);
          return d.retry(0);
        }
        done.add(d.envelope.id);
        return d.ack();
      });
      const sent = envelopes(20);
      await transport.publish(destination, sent);
      await until(() => done.size === 20, 'all 20 after 3 failures each');
    });

    it('keeps per-key order under concurrency', async function () {
      skipUnless(this, transport.capabilities.ordering !== 'none', 'no ordering guarantee');
      const { destination, sources } = await channelWithGroups([uniqueName('g')], true);
      const seen = new Map<string, number[]>();
      await consume(
        sources[0]!,
        async (d) => {
          await new Promise((resolve) => setImmediate(resolve));
          const key = d.envelope.key!;
          seen.set(key, [...(seen.get(key) ?? []), Number(d.envelope.headers.seq)]);
          await d.ack();
        },
        8,
      );
      const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
      const sent: Envelope[] = [];
      for (let seq = 0; seq < 40; seq++)
        for (const key of keys) sent.push(envelope({ key, headers: { seq: String(seq) } }));
      for (let i = 0; i < sent.length; i += 25) await transport.publish(destination, sent.slice(i, i + 25));
      await until(() => keys.every((key) => (seen.get(key)?.length ?? 0) >= 40), 'every key complete');
      for (const key of keys) expect(seen.get(key), `order of ${key}`).to.deep.equal([...Array(40).keys()]);
    });

    it('rejects publishing after close, with a typed error', async function () {
      const { destination } = await queue();
      await transport.close();
      await transport.close(); // idempotent
      const error = await transport.publish(destination, envelopes(1)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isOmnibusError(error), `expected an OmnibusError, got ${String(error)}`).to.equal(true);
    });

    it('round-trips every envelope attribute and custom header', async function () {
      const { destination, source } = await queue();
      const received = new Map<string, Envelope>();
      await consume(source, ackInto(received));
      const headers: Record<string, string> = {
        [Header.specVersion]: '1.0',
        [Header.source]: 'conformance',
        [Header.time]: new Date().toISOString(),
        [Header.contentType]: 'application/json',
        [Header.subject]: 'order-42',
        [Header.dataSchema]: 'https://example.com/schemas/test',
        [Header.correlationId]: uuidv7(),
        [Header.causationId]: uuidv7(),
        [Header.traceParent]: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        [Header.traceState]: 'congo=t61rcWkgMzE',
        tenant: 'acme',
        'x-custom-header': 'value with spaces, ünïcödé and = signs',
      };
      const sent = envelope({ key: 'key-1', headers });
      await transport.publish(destination, [sent]);
      await until(() => received.has(sent.id), 'the message');
      const got = received.get(sent.id)!;
      expect(got.id).to.equal(sent.id);
      expect(got.type).to.equal(sent.type);
      expect(got.key).to.equal('key-1');
      expect(got.headers).to.deep.include(headers);
    });

    it('carries a message near the size limit', async function () {
      const { destination, source } = await queue();
      const received = new Map<string, Envelope>();
      await consume(source, ackInto(received));
      const size =
        Math.min(options.largeMessageBytes ?? 1024 * 1024, transport.capabilities.maxMessageBytes) - 4096;
      const body = Buffer.alloc(size, 'x');
      const sent = envelope({ body });
      await transport.publish(destination, [sent]);
      await until(() => received.has(sent.id), 'the large message');
      expect(Buffer.from(received.get(sent.id)!.body).equals(body)).to.equal(true);
    });

    it('refuses a message over the size limit with a typed error', async function () {
      const { destination } = await queue();
      const body = Buffer.alloc(transport.capabilities.maxMessageBytes + 1, 'x');
      const error = await transport.publish(destination, [envelope({ body })]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isOmnibusError(error), `expected an OmnibusError, got ${String(error)}`).to.equal(true);
    });

    it('honours the retry delay', async function () {
      skipUnless(this, transport.capabilities.delayedRetry, 'no delayed redelivery');
      const { destination, source } = await queue();
      const times: number[] = [];
      await consume(source, async (d) => {
        times.push(Date.now());
        await (d.attempt === 1 ? d.retry(1_000) : d.ack());
      });
      await transport.publish(destination, envelopes(1));
      await until(() => times.length === 2, 'the delayed redelivery');
      expect(times[1]! - times[0]!, 'delay before redelivery').to.be.at.least(950);
    });

    for (const kind of ['queue', 'subscription'] as const) {
      it(`dead-letters a ${kind} message with its reason and replays it`, async function () {
        const setup =
          kind === 'queue'
            ? await queue()
            : await channelWithGroups([uniqueName('g')]).then((c) => ({
                destination: c.destination,
                source: c.sources[0]!,
              }));
        const source = setup.source as Extract<Source, { kind: 'queue' | 'subscription' }>;
        const handled = new Map<string, Envelope>();
        let failNext = true;
        await consume(source, async (d) => {
          if (failNext) {
            failNext = false;
            return d.deadLetter({
              message: 'poison: bad total',
              code: 'TEST_POISON',
              attempts: d.attempt,
              failedAt: new Date(),
            });
          }
          handled.set(d.envelope.id, d.envelope);
          return d.ack();
        });
        const [sent] = envelopes(1);
        await transport.publish(setup.destination, [sent!]);
        const dead = new Map<string, Envelope>();
        const dlq = await consume({ kind: 'deadLetters', of: source }, async (d) => {
          dead.set(d.envelope.id, d.envelope);
          await new Promise((resolve) => setImmediate(resolve));
          // leave it unsettled: closing this consumer releases it for the replay below
        });
        await until(() => dead.has(sent!.id), 'the dead letter');
        await dlq.close();
        const failure = readFailure(dead.get(sent!.id)!);
        expect(failure?.message).to.equal('poison: bad total');
        expect(failure?.code).to.equal('TEST_POISON');
        expect(failure?.source).to.deep.equal(source);
        const replayed = await replayDeadLetters(transport, source, { limit: 1, idleMs: waitMs });
        expect(replayed).to.equal(1);
        await until(() => handled.has(sent!.id), 'the replayed message handled');
        expect(readFailure(handled.get(sent!.id)!)).to.equal(undefined);
      });
    }

    it('ends a replay while the message fails again, and replays no more than the limit', async function () {
      const { destination, source } = await queue();
      const failures = new Map<string, number>();
      await consume(source, async (d) => {
        failures.set(d.envelope.id, (failures.get(d.envelope.id) ?? 0) + 1);
        return d.deadLetter({
          message: 'still poison',
          code: 'TEST_POISON',
          attempts: 1,
          failedAt: new Date(),
        });
      });
      const sent = envelopes(3);
      await transport.publish(destination, sent);
      const count = () => [...failures.values()].reduce((a, b) => a + b, 0);
      await until(() => count() === 3, 'three dead letters');
      const of = source as Extract<Source, { kind: 'queue' }>;
      const limited = await replayDeadLetters(transport, of, { limit: 2, idleMs: waitMs });
      expect(limited, 'replayed with limit 2').to.be.within(1, 2);
      await until(() => count() === 3 + limited, 'the replayed to fail again');
      // Unbounded, on a consumer that fails everything again: it must end, each dead letter at most once.
      const all = await replayDeadLetters(transport, of, { idleMs: waitMs });
      expect(all, 'replayed without a limit').to.be.within(1, 3);
      await until(() => count() === 3 + limited + all, 'the replayed to fail again');
      for (const id of failures.keys()) expect(failures.get(id), `handlings of ${id}`).to.be.at.most(3);
    });

    it('loses nothing in flight on a graceful close', async function () {
      const { destination, source } = await queue();
      const handled: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let started = 0;
      const consumer = await consume(
        source,
        async (d) => {
          started++;
          await gate;
          handled.push(d.envelope.id);
          await d.ack();
        },
        4,
      );
      const sent = envelopes(10);
      await transport.publish(destination, sent);
      await until(() => started >= 1, 'handlers to start');
      const closing = consumer.close();
      release();
      await closing;
      const inFlight = new Set(handled);
      const rest = new Map<string, Envelope>();
      await consume(source, ackInto(rest));
      await until(() => inFlight.size + rest.size >= 10, 'the rest after the close');
      await drained(destination);
      for (const id of inFlight)
        expect(rest.has(id), `${id} was acked and must not come back`).to.equal(false);
      expect(new Set([...inFlight, ...rest.keys()]).size).to.equal(10);
    });

    it('settles idempotently: a second ack or retry has no effect', async function () {
      const { destination, source } = await queue();
      const deliveries: Delivery[] = [];
      await consume(source, async (d) => {
        deliveries.push(d);
        await d.ack();
        await d.ack();
        await d.retry(0);
      });
      await transport.publish(destination, envelopes(2));
      await until(() => deliveries.length >= 2, 'two deliveries');
      await drained(destination);
      expect(deliveries.length).to.equal(2);
    });

    it('survives a sink that throws', async function () {
      const { destination, source } = await queue();
      const received = new Map<string, Envelope>();
      let threw = false;
      await consume(source, async (d) => {
        if (!threw) {
          threw = true;
          throw new Error('sink bug');
        }
        received.set(d.envelope.id, d.envelope);
        await d.ack();
      });
      const sent = envelopes(5);
      await transport.publish(destination, sent);
      await until(() => received.size >= 4, 'the other messages');
    });

    it('reconnects after a broker restart and loses nothing', async function () {
      const { restartable, persistent } = transport.capabilities;
      skipUnless(this, restartable && options.restartBroker !== undefined, 'no broker process to restart');
      skipUnless(this, persistent, 'the broker keeps no messages across a restart (in memory)');
      const count = options.reconnectMessages ?? 10_000;
      this.timeout(10 * 60_000);
      const { destination, source } = await queue();
      const received = new Set<string>();
      await consume(
        source,
        async (d) => {
          received.add(d.envelope.id);
          await d.ack();
        },
        32,
      );
      const sent = envelopes(count);
      let restarted = false;
      const publishing = (async () => {
        for (let i = 0; i < sent.length; i += 100) {
          const batch = sent.slice(i, i + 100);
          // The application's rule: a publish that was not confirmed is published again.
          await waitFor(
            () =>
              transport.publish(destination, batch).then(
                () => true,
                () => false,
              ),
            {
              timeoutMs: 120_000,
              intervalMs: 200,
              message: 'the broker to accept publishes again',
            },
          );
          if (!restarted && i >= sent.length / 2) {
            restarted = true;
            await options.restartBroker!();
          }
        }
      })();
      await publishing;
      await waitFor(() => received.size === count, { timeoutMs: 180_000, message: `all ${count} messages` });
    });
  });

  runSecurityConformance(name, options);
}

function ackInto(received: Map<string, Envelope>): DeliverySink {
  return async (delivery) => {
    received.set(delivery.envelope.id, delivery.envelope);
    await delivery.ack();
  };
}

const MARKER = 'conformance.Marker';

function envelope(overrides: Partial<Envelope> = {}): Envelope {
  const id = uuidv7();
  return {
    id,
    type: overrides.type ?? 'conformance.TestMessage',
    headers: { [Header.specVersion]: '1.0', [Header.contentType]: 'application/json', ...overrides.headers },
    body: overrides.body ?? Buffer.from(JSON.stringify({ id, text: 'hello' })),
    ...(overrides.key === undefined ? {} : { key: overrides.key }),
    ...(overrides.id === undefined ? {} : { id: overrides.id }),
  };
}

function envelopes(count: number): Envelope[] {
  return Array.from({ length: count }, () => envelope());
}
