import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ScheduledMessage } from '@omnibus/core';

const bin = fileURLToPath(new URL('../../bin/omnibus.js', import.meta.url));

/** Runs the built `omnibus` binary in a process of its own. */
export function omnibus(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() });
      },
    );
  });
}

/** Three waiting messages: a JSON one, a later one of another type with a key, and a binary one. */
export function threeSchedules(now = Date.now()): ScheduledMessage[] {
  const make = (
    id: string,
    type: string,
    inMs: number,
    body: Uint8Array,
    key?: string,
  ): ScheduledMessage => ({
    id,
    destination: { kind: 'channel', channel: 'orders' },
    envelope: {
      id: `m-${id}`,
      type,
      headers: { 'x-note': 'hi' },
      body,
      ...(key === undefined ? {} : { key }),
    },
    deliverAt: new Date(now + inMs),
    createdAt: new Date(now),
  });
  return [
    make('s-late', 'orders.Reminder', 7_200_000, Buffer.from('{"n":2}'), 'o-2'),
    make('s-first', 'orders.Timeout', 3_600_000, Buffer.from('{"n":1}')),
    make('s-binary', 'orders.Timeout', 10_800_000, new Uint8Array([0xff, 0x00, 0xfe])),
  ];
}
