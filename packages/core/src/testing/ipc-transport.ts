import type { ChildProcess } from 'node:child_process';
import type { Envelope } from '../envelope.js';
import type { Capabilities, Consumer, Destination, HealthReport, Transport } from '../transport.js';
import { TransportError } from '../errors.js';

interface PublishRequest {
  readonly kind: 'publish';
  readonly id: number;
  readonly destination: Destination;
  readonly envelopes: readonly Envelope[];
}

interface PublishReply {
  readonly kind: 'published';
  readonly id: number;
}

/**
 * A transport for a child process (a relay under a crash test): it publishes into the parent's broker (a real
 * MemoryTransport) over the IPC channel, and `publish` resolves once the parent has the messages. This is
 * how a test kills a relay process mid-batch and still sees everything it published.
 */
export class IpcTransport implements Transport {
  readonly name = 'ipc';
  readonly capabilities: Capabilities = {
    persistent: false,
    consumerGroups: true,
    ordering: 'key',
    delayedRetry: true,
    nativeDeadLetter: false,
    maxMessageBytes: 16 * 1024 * 1024,
    restartable: false,
  };
  readonly #pending = new Map<number, () => void>();
  #next = 0;

  constructor() {
    process.on('message', (message: PublishReply) => {
      if (message.kind === 'published') this.#pending.get(message.id)?.();
    });
  }

  async connect(): Promise<void> {}
  async provision(): Promise<void> {}
  async publish(destination: Destination, envelopes: readonly Envelope[]): Promise<void> {
    const id = this.#next++;
    const request: PublishRequest = { kind: 'publish', id, destination, envelopes };
    await new Promise<void>((resolve, reject) => {
      this.#pending.set(id, () => {
        this.#pending.delete(id);
        resolve();
      });
      process.send!(request, (error: Error | null) => {
        if (error !== null) reject(new TransportError('parent unreachable', { cause: error }));
      });
    });
  }
  async consume(): Promise<Consumer> {
    throw new TransportError('the IPC transport only publishes', { code: 'NOT_SUPPORTED', retriable: false });
  }
  async health(): Promise<HealthReport> {
    return { status: 'up' };
  }
  async close(): Promise<void> {}
}

export interface BridgeOptions {
  /** After this many envelopes, publish the call that crosses it but never confirm it: a stuck batch. */
  readonly stallAfter?: number;
  readonly onStall?: () => void;
}

/** The parent's side: publishes what the child relays into `transport` and confirms it. */
export function bridgeIpc(
  child: ChildProcess,
  transport: Transport,
  options: BridgeOptions = {},
): { published: number } {
  const counter = { published: 0 };
  let stalled = false;
  child.on('message', (message: PublishRequest) => {
    if (message.kind !== 'publish' || stalled) return;
    void (async () => {
      await transport.publish(message.destination, message.envelopes);
      counter.published += message.envelopes.length;
      if (options.stallAfter !== undefined && counter.published >= options.stallAfter) {
        stalled = true;
        options.onStall?.();
        return;
      }
      const reply: PublishReply = { kind: 'published', id: message.id };
      child.send(reply);
    })();
  });
  return counter;
}
