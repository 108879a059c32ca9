import { fork, type ChildProcess } from 'node:child_process';
import { consoleLogger } from '../logger.js';
import { OutboxRelay } from '../outbox-relay.js';
import type { OutboxStore } from '../persistence.js';
import type { ScheduleStore } from '../schedule-store.js';
import { IpcTransport } from './ipc-transport.js';

/** A module that opens a store in a child process and calls {@link serveOutboxRelay}, and its arguments. */
export interface RelayProcessModule {
  readonly module: string;
  readonly args: readonly string[];
}

/** How the child's relay runs; handed to the child in its environment. */
export interface RelayProcessOptions {
  readonly leaseMs: number;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
}

const OPTIONS_VARIABLE = 'OMNIBUS_RELAY_PROCESS_OPTIONS';

/**
 * The child's side, for a store's relay fixture: relays `store` into the parent's broker over IPC
 * ({@link IpcTransport}) with the options the parent forked it with, says `ready` once running, and on a
 * `stop` message stops the relay, runs `close` and disconnects. With `schedules`, it releases them too.
 */
export async function serveOutboxRelay(
  store: OutboxStore,
  close: () => Promise<void>,
  schedules?: ScheduleStore,
): Promise<void> {
  const options = JSON.parse(process.env[OPTIONS_VARIABLE] ?? 'null') as RelayProcessOptions | null;
  if (options === null) throw new Error(`${OPTIONS_VARIABLE} is not set: fork with forkRelayProcess`);
  const relay = new OutboxRelay({
    store,
    ...(schedules === undefined ? {} : { schedules }),
    transport: new IpcTransport(),
    ...options,
    logger: consoleLogger('warn'),
  });
  await relay.start();
  process.on('message', (message: { kind?: string }) => {
    if (message.kind !== 'stop') return;
    void (async () => {
      await relay.stop();
      await close();
      process.disconnect();
    })();
  });
  process.send!({ kind: 'ready' });
}

/**
 * The parent's side: forks the relay fixture with the IPC channel the bridge ({@link bridgeIpc}) needs.
 * Bridge the child at once: it starts relaying without waiting.
 */
export function forkRelayProcess(spec: RelayProcessModule, options: RelayProcessOptions): ChildProcess {
  return fork(spec.module, [...spec.args], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [OPTIONS_VARIABLE]: JSON.stringify(options) },
  });
}

/** Resolves once the forked relay runs; rejects if the child exits first. */
export function relayProcessReady(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onMessage = (message: { kind?: string }): void => {
      if (message.kind !== 'ready') return;
      child.off('exit', onExit);
      child.off('message', onMessage);
      resolve();
    };
    const onExit = (code: number | null): void => {
      child.off('message', onMessage);
      reject(new Error(`the relay process exited (${String(code)}) before it was ready`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Asks the relay process to stop and waits for it to exit. */
export async function stopRelayProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send({ kind: 'stop' });
  await exited;
}
