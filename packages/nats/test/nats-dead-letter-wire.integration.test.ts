import 'reflect-metadata';
import { expect } from 'chai';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Bus, Handle, NonRetriableError, Subscriber, defineCommand, silentLogger } from '@omnibus/core';
import { describeIntegration, uniqueName, waitFor } from '@omnibus/core/testing';
import { NatsNames, NatsTransport } from '../src/index.js';
import { DEAD_LETTER_HEADER } from '../src/nats-codec.js';

const url = process.env.OMNIBUS_NATS_URL ?? 'nats://127.0.0.1:4222';

async function probe(): Promise<void> {
  const nc = await connect({ servers: url, timeout: 3_000, reconnect: false });
  try {
    await jetstreamManager(nc);
  } finally {
    await nc.close();
  }
}

/**
 * #15.1 on the wire: a dead-letter copy, read from the dead-letter stream with plain @nats-io/jetstream,
 * carries exactly the original's headers plus the `omnibus-error-*` ones, and no empty CloudEvents id or
 * type.
 */
describeIntegration('nats dead letters on the wire', probe, function () {
  this.timeout(90_000);
  const names = new NatsNames('omnibus');
  let raw: NatsConnection;
  let transport: NatsTransport;
  let bus: Bus | undefined;

  before(async function () {
    raw = await connect({ servers: url });
    transport = new NatsTransport({ servers: url });
    await transport.connect();
  });
  after(async function () {
    await bus?.stop();
    await transport.close();
    await raw.close();
  });

  function headerMap(headers: MsgHdrs | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, values] of headers ?? []) out[name] = values.join(',');
    return out;
  }

  it('copies exactly the original headers plus omnibus-error-*', async function () {
    const queue = uniqueName('dlwire');
    const Thing = defineCommand<{ n: number }>({ type: 'nats.WireThing', queue });
    @Subscriber({ group: uniqueName('g') })
    class Refusing {
      @Handle(Thing)
      thing() {
        throw new NonRetriableError('refused');
      }
    }
    bus = new Bus({
      transport,
      serviceName: 'nats-wire',
      handlers: [Refusing],
      closeTransport: false,
      logger: silentLogger,
    });
    await bus.start();
    const js = jetstream(raw);
    const ours = {
      'ce-id': 'wire-1',
      'ce-type': 'nats.WireThing',
      'ce-source': 'a-foreign-client',
      'ce-specversion': '1.0',
      'content-type': 'application/json',
      'x-tenant': 't1',
    };
    const typed = natsHeaders();
    for (const [name, value] of Object.entries(ours)) typed.set(name, value);
    await js.publish(names.queueSubject(queue), '{"n":1}', { headers: typed });
    // A foreign message with no id and no type, one custom header.
    const bare = natsHeaders();
    bare.set('x-foreign', 'v');
    await js.publish(names.queueSubject(queue), '{"n":2}', { headers: bare });
    await waitFor(() => bus!.stats.deadLettered === 2, { message: 'two dead letters' });

    // A durable of our own on the dead-letter stream, filtered to this queue's dead letters.
    const of = { kind: 'queue', queue } as const;
    const durable = `wire_${names.deadLetterDurable(of)}`;
    const jsm = await jetstreamManager(raw);
    await jsm.consumers.add(names.deadLetterStream, {
      durable_name: durable,
      filter_subject: names.deadLetterSubject(of),
      ack_policy: AckPolicy.Explicit,
    });
    const reader = await js.consumers.get(names.deadLetterStream, durable);
    const dead = new Map<string, Record<string, string>>();
    await waitFor(
      async () => {
        const message = await reader.next({ expires: 2_000 });
        if (message !== null) {
          dead.set(message.string(), headerMap(message.headers));
          message.ack();
        }
        return dead.size >= 2;
      },
      { timeoutMs: 30_000, message: 'two dead letters read raw' },
    );
    await jsm.consumers.delete(names.deadLetterStream, durable);

    // Besides the failure: Nats-Msg-Id, JetStream's duplicate-detection id, set on every publish, and
    // DEAD_LETTER_HEADER, the copy's own id, which a replay keeps so that JetStream does not drop the
    // replayed message as a duplicate of the original. Neither is a CloudEvents attribute.
    const driver = new Set(['Nats-Msg-Id', DEAD_LETTER_HEADER]);
    const original = (headers: Record<string, string>) =>
      Object.keys(headers)
        .filter((name) => !name.startsWith('omnibus-error-') && !driver.has(name))
        .sort();
    const first = dead.get('{"n":1}')!;
    expect(original(first)).to.deep.equal(Object.keys(ours).sort());
    for (const [name, value] of Object.entries(ours)) expect(first[name], name).to.equal(value);
    expect(first['omnibus-error-code']).to.equal('NON_RETRIABLE');
    const second = dead.get('{"n":2}')!;
    expect(original(second)).to.deep.equal(['x-foreign']);
    expect(second['omnibus-error-code']).to.equal('MISSING_HEADER');
    for (const headers of [first, second]) {
      expect(Object.keys(headers)).to.include.members(['omnibus-error-code', 'omnibus-error-message']);
    }
  });
});
