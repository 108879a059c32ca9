import { expect } from 'chai';
import { Header } from '@omnibus/core';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { Envelope } from '@omnibus/core';
import { toBindingHeaders } from '@omnibus/core/transport';
import {
  NATS_BINDING,
  decodeHeaderBlock,
  decodeMessage,
  encodeEnvelope,
  headerStoreOf,
} from '../src/nats-codec.js';

describe('NATS codec', function () {
  it('escapes line breaks in header values (a dead letter stack), which NATS headers cannot carry', function () {
    const stack = 'NonRetriableError: invalid amount\n    at process (payment-handlers.js:1:1)\r\n    at x';
    const encoded = encodeEnvelope({
      id: 'm1',
      type: 't.Happened',
      headers: { [Header.contentType]: 'application/json', [Header.errorStack]: stack },
      body: new Uint8Array([123, 125]),
    });
    const decoded = decodeMessage(encoded.headers, encoded.data);
    expect(decoded.headers[Header.errorStack]).to.equal(
      'NonRetriableError: invalid amount\\n    at process (payment-handlers.js:1:1)\\n    at x',
    );
  });

  it('writes no empty ce-id or ce-type for a foreign message without them (#15.1)', function () {
    const encoded = encodeEnvelope({
      id: '',
      type: '',
      headers: { 'x-custom': 'v' },
      body: Buffer.from('?'),
    });
    expect([...encoded.headers.keys()]).to.deep.equal(['x-custom']);
  });

  it('keeps a __proto__ header as a header and leaks nothing inherited (hostile input, #16.7)', function () {
    const wire = natsHeaders();
    wire.set('ce-id', '1');
    wire.set('ce-type', 't');
    wire.set('__proto__', 'x');
    const envelope = decodeMessage(wire, Buffer.from('{}'));
    expect(Object.getPrototypeOf(envelope.headers)).to.equal(null);
    expect(Object.keys(envelope.headers)).to.deep.equal(['__proto__']);
    expect(envelope.headers['__proto__']).to.equal('x');
    const encoded = encodeEnvelope(envelope);
    expect(encoded.headers.get('__proto__')).to.equal('x');
  });

  describe("writing headers into the client's store", function () {
    /** What the codec wrote before it filled the client's store (the core binding, `set` per header), by name. */
    function throughSet(envelope: Envelope): [string, string[]][] {
      const wire = natsHeaders();
      const bound = toBindingHeaders(envelope, NATS_BINDING);
      for (const name of Object.keys(bound)) wire.set(name, bound[name]!.replace(/\r\n|\r|\n/g, '\\n'));
      if (envelope.key !== undefined) wire.set('ce-partitionkey', envelope.key);
      return sorted(wire);
    }
    const sorted = (wire: Iterable<[string, string[]]>) => [...wire].sort(([a], [b]) => a.localeCompare(b));

    it('finds the store in this client version (else every header goes through set)', function () {
      expect(headerStoreOf(natsHeaders())).to.be.instanceOf(Map);
    });

    it('writes the same headers as the CloudEvents binding through set', function () {
      const envelopes: Envelope[] = [
        {
          id: 'm1',
          type: 't.Happened',
          key: 'k1',
          headers: {
            specversion: '1.0',
            source: 'orders',
            [Header.contentType]: 'application/json',
            [Header.errorStack]: 'Error: x\n  at y',
            partitionkey: 'overwritten by the key',
            'omnibus-attempt': '2',
            'x-padded': '  v  ',
          },
          body: Buffer.from('{}'),
        },
        { id: '', type: '', headers: { 'ce-source': 'a', source: 'b' }, body: Buffer.from('?') },
      ];
      for (const envelope of envelopes)
        expect(sorted(encodeEnvelope(envelope).headers)).to.deep.equal(throughSet(envelope));
    });

    it("rejects a header name NATS cannot carry with the client's error", function () {
      const envelope = { id: 'm1', type: 't', headers: { 'bad name': 'v' }, body: Buffer.from('{}') };
      expect(() => encodeEnvelope(envelope)).to.throw(/bad name|not a valid character/);
    });
  });

  describe('from the header block as received', function () {
    /** The same headers as the client's `MsgHdrs` and as the block a server delivers. */
    function both(lines: readonly [string, string][]): {
      wire: ReturnType<typeof natsHeaders>;
      block: Uint8Array;
    } {
      const wire = natsHeaders();
      for (const [name, value] of lines) wire.append(name, value);
      const text = ['NATS/1.0', ...lines.map(([name, value]) => `${name}: ${value}`)].join('\r\n');
      return { wire, block: Buffer.from(`${text}\r\n\r\n`) };
    }
    const body = Buffer.from('{"n":1}');
    const cases: Record<string, [string, string][]> = {
      'ours, binary mode': [
        ['ce-id', 'm1'],
        ['ce-type', 't.Happened'],
        ['ce-specversion', '1.0'],
        ['ce-source', 'orders'],
        ['ce-time', '2026-12-07T17:00:00.000Z'],
        ['content-type', 'application/json'],
        ['ce-partitionkey', 'k1'],
        ['omnibus-attempt', '2'],
        ['Nats-Msg-Id', 'm1'],
      ],
      'a foreign message with only Nats-Msg-Id': [['Nats-Msg-Id', 'f1']],
      'names in other cases and an invalid attribute name': [
        ['Content-Type', 'text/plain'],
        ['CE-ID', 'x'],
        ['ce-Not_An_Attribute', 'v'],
        ['NATS-MSG-ID', 'n1'],
        ['nats-expected-stream', 's'],
      ],
      'a header sent twice (the last value counts)': [
        ['ce-type', 'first'],
        ['ce-type', 'second'],
        ['x-custom', 'a'],
        ['x-custom', 'b'],
      ],
      'values with colons and padding': [
        ['ce-id', '  spaced  '],
        ['ce-source', 'urn:x:y'],
        ['__proto__', 'x'],
      ],
    };
    for (const [name, lines] of Object.entries(cases)) {
      it(`reads ${name} as the client's headers do`, function () {
        const { wire, block } = both(lines);
        const fromBlock = decodeHeaderBlock(block, body);
        expect(fromBlock).to.deep.equal(decodeMessage(wire, body));
        expect(Object.getPrototypeOf(fromBlock.headers)).to.equal(null);
      });
    }

    it('reads a structured-mode event and a message without headers', function () {
      const event = Buffer.from(
        JSON.stringify({ specversion: '1.0', id: 's1', type: 't', source: 'x', data: {} }),
      );
      const { wire, block } = both([['content-type', 'application/cloudevents+json; charset=utf-8']]);
      expect(decodeHeaderBlock(block, event)).to.deep.equal(decodeMessage(wire, event));
      expect(decodeHeaderBlock(block, event).id).to.equal('s1');
      expect(decodeHeaderBlock(undefined, body)).to.deep.equal(decodeMessage(undefined, body));
    });

    it('skips lines without a colon instead of failing', function () {
      const block = Buffer.from('NATS/1.0\r\nce-id: m1\r\ngarbage\r\n: no name\r\nce-type: t\r\n\r\n');
      const envelope = decodeHeaderBlock(block, body);
      expect([envelope.id, envelope.type, Object.keys(envelope.headers)]).to.deep.equal(['m1', 't', []]);
    });
  });
});
