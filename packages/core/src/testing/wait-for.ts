import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Give up after this long. Default 10 s. */
  readonly timeoutMs?: number;
  /** How often to check. Default 5 ms. */
  readonly intervalMs?: number;
  /** Said in the error when the deadline passes. */
  readonly message?: string;
}

/**
 * Waits until `condition` holds, checking every `intervalMs`, and fails with `message` at the deadline:
 * the way tests synchronise, instead of sleeping and hoping.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: WaitOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.message ?? 'a condition'}`);
    }
    await sleep(options.intervalMs ?? 5);
  }
}
