import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Envelope } from '@omnibus/core';
import { Header, isOmnibusError, readFailure, uuidv7 } from '@omnibus/core';
import type { Delivery } from '@omnibus/core/transport';
import { describeIntegration, runTransportConformance, uniqueName, waitFor } from '@omnibus/core/testing';
import type { NatsTransportOptions } from '../src/index.js';
import { NatsNames, NatsTransport } from '../src/index.js';

const url = process.env.OMNIBUS_NATS_URL ?? 'nats://127.0.0.1:4222';
const brokersScript = fileURLToPath(new URL('../../../../scripts/brokers', import.meta.url));
const run = promisify(execFile);

async function probe(): Promise<void> {
  const nc = await connect({ servers: url, timeout: 3_000, reconnect: false });
  try {
    await jetstreamManager(nc);
  } finally {
    await nc.close();
  }
}

describeIntegration('nats', probe, () => {
  const transports: NatsTransport[] = [];
  after(async function () {
    await Promise.allSettled(transports.map((t) => t.close()));
  });

  async function createTransport(options: NatsTransportOptions = {}): Promise<NatsTransport> {
    const transport = new NatsTransport({ servers: url, ...options });
    await transport.connect();
    transports.push(transport);
    return transport;
  }

  runTransportConformance('nats', {
    createTransport: () => createTransport(),
    createUnconnectedTransport: () => new NatsTransport({ servers: url }),
    restartBroker: async () => {
      try {
        await run(brokersScript, ['restart', 'nats'], { timeout: 240_000 });
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: string; stderr?: string };
        throw new Error(`scripts/brokers restart nats failed:\n${stdout ?? ''}${stderr ?? ''}`, {
          cause: error,
        });
      }
    },
    reconnectMessages: 10_000,
  });

  describe('nats transport specifics', function () {
    this.timeout(60_000);
    let transport: NatsTransport;
    let raw: NatsConnection;
    const names = new NatsNames('omnibus');
    const closeAfter: { close(): Promise<unknown> }[] = [];

    beforeEach(async function () {
      transport = await createTransport();
      raw = await connect({ servers: url });
    });

    afterEach(async function () {
      for (const closable of closeAfter.splice(0).reverse()) await closable.close().catch(() => undefined);
      await transport.close();
      await raw.close();
    });

    async function commandQueue(t: NatsTransport = transport): Promise<string> {
      const name = uniqueName('nq');
      await t.provision({ queues: [{ name }] });
      return name;
    }

    function envelope(overrides: Partial<Envelope> = {}): Envelope {
      const id = uuidv7();
      return {
        id,
        type: 'nats.Test',
        headers: {
          [Header.specVersion]: '1.0',
          [Header.contentType]: 'application/json',
          [Header.source]: 'nats-test',
          tenant: 'acme',
          'x-trace-note': 'kept as is',
        },
        body: Buffer.from(JSON.stringify({ id })),
        ...overrides,
      };
    }

    async function collect(queue: string, into: Delivery[], settle = true) {
      const consumer = await transport.consume(
        { kind: 'queue', queue },
        async (d) => {
          into.push(d);
          if (settle) await d.ack();
        },
        { concurrency: 4 },
      );
      closeAfter.push(consumer);
      return consumer;
    }

    it('writes the CloudEvents NATS binding that a plain JetStream client reads', async function () {
      const queue = await commandQueue();
      const sent = envelope({ key: 'order-7' });
      await transport.publish({ kind: 'queue', queue }, [sent]);
      const js = jetstream(raw);
      const consumer = await js.consumers.get(names.queueStream(queue), names.queueDurable);
      const message = await consumer.next({ expires: 10_000 });
      expect(message, 'a message').not.to.equal(null);
      const h = message!.headers!;
      expect(h.get('Nats-Msg-Id')).to.equal(sent.id);
      expect(h.get('ce-id')).to.equal(sent.id);
      expect(h.get('ce-type')).to.equal('nats.Test');
      expect(h.get('ce-specversion')).to.equal('1.0');
      expect(h.get('ce-source')).to.equal('nats-test');
      expect(h.get('ce-tenant')).to.equal('acme');
      expect(h.get('ce-partitionkey')).to.equal('order-7');
      expect(h.get('content-type')).to.equal('application/json');
      expect(h.get('x-trace-note')).to.equal('kept as is');
      expect(h.has('ce-datacontenttype')).to.equal(false);
      expect(JSON.parse(message!.string())).to.deep.equal({ id: sent.id });
      message!.ack();
    });

    it("handles a foreign client's binary and structured events, and dead-letters its garbage with the reason", async function () {
      const queue = await commandQueue();
      const got: Delivery[] = [];
      await collect(queue, got);
      const js = jetstream(raw);
      const binary = natsHeaders();
      binary.set('ce-id', 'foreign-1');
      binary.set('ce-type', 'foreign.Placed');
      binary.set('ce-specversion', '1.0');
      binary.set('content-type', 'application/json');
      await js.publish(names.queueSubject(queue), '{"a":1}', { headers: binary });
      const structured = natsHeaders();
      structured.set('content-type', 'application/cloudevents+json; charset=utf-8');
      await js.publish(
        names.queueSubject(queue),
        JSON.stringify({
          specversion: '1.0',
          id: 'foreign-2',
          type: 'foreign.Shipped',
          source: 'x',
          data: { b: 2 },
        }),
        { headers: structured },
      );
      await js.publish(names.queueSubject(queue), new Uint8Array([0xff, 0x00, 0x13]));
      await waitFor(() => got.length === 3, { timeoutMs: 10_000, message: 'three deliveries' });
      const [a, b, c] = got.map((d) => d.envelope);
      expect(a).to.include({ id: 'foreign-1', type: 'foreign.Placed' });
      expect(JSON.parse(Buffer.from(a!.body).toString())).to.deep.equal({ a: 1 });
      expect(b).to.include({ id: 'foreign-2', type: 'foreign.Shipped' });
      expect(b!.headers[Header.source]).to.equal('x');
      expect(JSON.parse(Buffer.from(b!.body).toString())).to.deep.equal({ b: 2 });
      // No id, no type: the bus dead-letters such an envelope; the transport hands it over intact.
      expect(c).to.include({ id: '', type: '' });
      expect([...c!.body]).to.deep.equal([0xff, 0x00, 0x13]);
    });

    it('stores a second publish of one id within the duplicate window once', async function () {
      const queue = await commandQueue();
      const sent = envelope();
      await transport.publish({ kind: 'queue', queue }, [sent]);
      await transport.publish({ kind: 'queue', queue }, [sent]);
      const jsm = await jetstreamManager(raw);
      const info = await jsm.streams.info(names.queueStream(queue));
      expect(info.state.messages).to.equal(1);
    });

    it('dead-letters with code MAX_DELIVERIES_EXCEEDED once a message passes the delivery limit unsettled', async function () {
      const limited = await createTransport({ deliveryLimit: 2, ackWaitMs: 1_000 });
      const queue = await commandQueue(limited);
      const seen: number[] = [];
      closeAfter.push(
        await limited.consume(
          { kind: 'queue', queue },
          async (d) => {
            seen.push(d.attempt); // never settled: JetStream redelivers after the ack wait
          },
          { concurrency: 1 },
        ),
      );
      const sent = envelope();
      await limited.publish({ kind: 'queue', queue }, [sent]);
      const dead: Envelope[] = [];
      closeAfter.push(
        await limited.consume(
          { kind: 'deadLetters', of: { kind: 'queue', queue } },
          async (d) => {
            dead.push(d.envelope);
            await d.ack();
          },
          { concurrency: 1 },
        ),
      );
      await waitFor(() => dead.length === 1, { timeoutMs: 20_000, message: 'the dead letter' });
      expect(seen).to.deep.equal([1, 2]);
      const failure = readFailure(dead[0]!);
      expect(failure?.code).to.equal('MAX_DELIVERIES_EXCEEDED');
      expect(failure?.attempts).to.equal(3);
      expect(failure?.source).to.deep.equal({ kind: 'queue', queue });
      expect(dead[0]!.id).to.equal(sent.id);
    });

    it('refuses to reuse a stream made with another configuration, naming the field', async function () {
      const queue = uniqueName('nq');
      const jsm = await jetstreamManager(raw);
      await jsm.streams.add({ name: names.queueStream(queue), subjects: [names.queueSubject(queue)] });
      const error = await transport.provision({ queues: [{ name: queue }] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isOmnibusError(error)).to.equal(true);
      expect((error as { code: string }).code).to.equal('INCOMPATIBLE_TOPOLOGY');
      expect((error as Error).message).to.match(/retention/);
      await jsm.streams.delete(names.queueStream(queue));
    });

    it('refuses to reuse a durable consumer made with another configuration', async function () {
      const queue = await commandQueue();
      const other = await createTransport({ ackWaitMs: 5_000 });
      const error = await other
        .consume({ kind: 'queue', queue }, async (d) => d.ack(), { concurrency: 1 })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect((error as { code?: string }).code).to.equal('INCOMPATIBLE_TOPOLOGY');
      expect((error as Error).message).to.match(/ack_wait/);
    });

    it('gives back at once what JetStream still sends for the pull while a consumer closes', async function () {
      // A long ack wait: a message dropped at the close would be missing here for a minute.
      const patient = await createTransport({ ackWaitMs: 60_000 });
      const queue = await commandQueue(patient);
      const total = 2_000;
      const sent = Array.from({ length: total }, () => envelope());
      await patient.publish({ kind: 'queue', queue }, sent);
      const handled = new Set<string>();
      const consumer = await patient.consume(
        { kind: 'queue', queue },
        async (d) => {
          handled.add(d.envelope.id);
          await d.ack();
        },
        { concurrency: 64 },
      );
      // Close while the server streams: its pull is refilled with each batch, so messages are on the way.
      await waitFor(() => handled.size >= 300, { timeoutMs: 10_000, message: 'the first messages' });
      await consumer.close();
      const first = new Set(handled);
      const rest = new Set<string>();
      closeAfter.push(
        await patient.consume(
          { kind: 'queue', queue },
          async (d) => {
            expect(first.has(d.envelope.id), `${d.envelope.id} was acked before the close`).to.equal(false);
            rest.add(d.envelope.id);
            await d.ack();
          },
          { concurrency: 64 },
        ),
      );
      await waitFor(() => first.size + rest.size === total, {
        timeoutMs: 10_000,
        message: `all ${total} messages well before the 60 s ack wait`,
      });
    });

    it('provisions idempotently', async function () {
      const channel = uniqueName('nc');
      const topology = { channels: [{ name: channel }], subscriptions: [{ channel, group: 'g' }] };
      await transport.provision(topology);
      const again = await createTransport();
      await again.provision(topology);
    });
  });
});
