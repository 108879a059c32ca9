/** What {@link coalesceSocketWrites} needs of a socket: Node's `net.Socket` and `tls.TLSSocket` have it. */
interface CorkableSocket {
  write: (...args: never[]) => boolean;
  cork(): void;
  uncork(): void;
}

const coalesced = new WeakSet<object>();

function isCorkable(socket: unknown): socket is CorkableSocket {
  const candidate = socket as Partial<CorkableSocket> | null | undefined;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.write === 'function' &&
    typeof candidate.cork === 'function' &&
    typeof candidate.uncork === 'function'
  );
}

/**
 * Makes `socket` send what is written to it in one event-loop turn as one write, at the end of the turn
 * (`setImmediate`), instead of one system call per `write`. For client libraries that write each frame
 * or message on its own (pg once per query, rhea once per AMQP frame): on loopback every write also does
 * the receiving side's work and wakes the broker's or database's thread, which on a small machine takes
 * the core from the sender. Nothing is reordered, and a write waits at most for the rest of the turn;
 * `end()` flushes what is held. Returns whether it applied (false for what is not a corkable socket);
 * a socket is wrapped once however often this is called.
 */
export function coalesceSocketWrites(socket: unknown): boolean {
  if (!isCorkable(socket)) return false;
  if (coalesced.has(socket)) return true;
  coalesced.add(socket);
  const write = socket.write;
  let corked = false;
  const flush = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: CorkableSocket, ...args: never[]): boolean {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(flush);
    }
    return write.apply(this, args);
  };
  return true;
}
