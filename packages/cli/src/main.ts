#!/usr/bin/env node
import { run } from './cli.js';

const stopping = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => stopping.abort(new Error(`received ${signal}`)));
}

/**
 * A stream whose reader went away (`omnibus --help | head`) fails its writes with EPIPE, and an unhandled
 * stream error would end the process with a stack trace. The reader wanted no more: stop writing to that
 * stream, ask a long-running command to end, and exit with the command's own code.
 */
function lineWriter(stream: NodeJS.WriteStream): (line: string) => void {
  let open = true;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    open = false;
    stopping.abort(new Error('output closed'));
  });
  return (line) => {
    if (open) stream.write(`${line}\n`);
  };
}

process.exitCode = await run(process.argv.slice(2), {
  stdout: lineWriter(process.stdout),
  stderr: lineWriter(process.stderr),
  signal: stopping.signal,
  env: process.env,
});
