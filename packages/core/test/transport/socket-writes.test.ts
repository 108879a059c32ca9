import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { expect } from 'chai';
import { waitFor } from '@omnibus/core/testing';
import { coalesceSocketWrites } from '@omnibus/core/transport';

describe('coalesceSocketWrites', function () {
  let server: Server;
  let received = '';
  let client: Socket;
  /** The system-call-level writes the client made (Node's `_write`/`_writev`). */
  let writes = 0;

  beforeEach(async function () {
    received = '';
    writes = 0;
    server = createServer((peer) => peer.on('data', (chunk: Buffer) => (received += chunk.toString())));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(client, 'connect');
    const internals = client as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const name of ['_write', '_writev']) {
      const original = internals[name]!;
      internals[name] = function (this: unknown, ...args: unknown[]) {
        writes++;
        return original.apply(this, args);
      };
    }
  });
  afterEach(async function () {
    client.destroy();
    server.close();
    await once(server, 'close');
  });

  it('sends what one turn writes as one write, in order, and the next turn again', async function () {
    expect(coalesceSocketWrites(client)).to.equal(true);
    client.write('a');
    client.write('b');
    client.write('c');
    await waitFor(() => received === 'abc', { message: 'abc' });
    expect(writes).to.equal(1);
    client.write('d');
    await waitFor(() => received === 'abcd', { message: 'abcd' });
    expect(writes).to.equal(2);
  });

  it('without it, each write is its own (the baseline the other test beats)', async function () {
    client.write('a');
    client.write('b');
    client.write('c');
    await waitFor(() => received === 'abc', { message: 'abc' });
    expect(writes).to.be.at.least(2);
  });

  it('flushes what it holds on end(), and wraps a socket once', async function () {
    expect(coalesceSocketWrites(client)).to.equal(true);
    expect(coalesceSocketWrites(client)).to.equal(true);
    client.write('x');
    client.write('y');
    client.end();
    await waitFor(() => received === 'xy', { message: 'xy before the end' });
    expect(writes).to.equal(1);
  });

  it('leaves what is not a corkable socket alone', function () {
    expect(coalesceSocketWrites(undefined)).to.equal(false);
    expect(coalesceSocketWrites({ write: () => true })).to.equal(false);
  });
});
