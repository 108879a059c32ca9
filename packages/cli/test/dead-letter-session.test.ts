import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'chai';
import type { Transport } from '@omnibus/core';
import { Header, MemoryTransport, uuidv7 } from '@omnibus/core';
import { uniqueName, waitFor } from '@omnibus/core/testing';
import { deadLetterSession } from '../src/dead-letters/dead-letter-session.js';

describe('the dead-letter session reader', function () {
  it('counts its first wait from when the consumer is attached, not from before it attaches', async function () {
    const memory = new MemoryTransport();
    await memory.connect();
    const queue = uniqueName('session');
    await memory.provision({ queues: [{ name: queue }] });
    let dead = false;
    const consumer = await memory.consume(
      { kind: 'queue', queue },
      async (delivery) => {
        await delivery.deadLetter({
          code: 'HANDLER_ERROR',
          message: 'down',
          attempts: 1,
          failedAt: new Date(),
        });
        dead = true;
      },
      { concurrency: 1 },
    );
    await memory.publish({ kind: 'queue', queue }, [
      { id: uuidv7(), type: 'A', headers: { [Header.specVersion]: '1.0' }, body: new Uint8Array() },
    ]);
    await waitFor(() => dead, { timeoutMs: 5_000, message: 'the dead letter' });
    await consumer.close();
    // A broker on a loaded machine: attaching (joining a group, opening a stream) outlasts the first wait.
    const slow = Object.create(memory) as Transport;
    slow.consume = async (...args) => {
      await delay(400);
      return memory.consume(...args);
    };
    const seen = await deadLetterSession(
      slow,
      { kind: 'queue', queue },
      { limit: 10, firstWaitMs: 200, idleMs: 200 },
      async () => 'kept',
    );
    expect(seen).to.equal(1);
    await memory.close();
  });
});
