import type { ChannelModel } from 'amqplib';

/**
 * amqplib's connection internals (2.3.x, `lib/connection.js` and `lib/mux.js`): every channel queues its
 * frames as separate chunks, and the connection's mux moves whatever is queued to the socket in one pass
 * of `_readIncoming`, one `socket.write` per chunk.
 */
interface ConnectionInternals {
  readonly stream?: { cork?: unknown; uncork?: unknown };
  readonly muxer?: { out?: unknown; _readIncoming?: unknown };
}

/**
 * Makes the connection write every frame the mux has ready in one system call instead of one per
 * message: the socket is corked for the mux's pass and uncorked after it, so Node hands the chunks to
 * the kernel with one `writev`. Under load amqplib spends about half the publishing client's CPU in one
 * socket write per message (docs/rabbitmq.md); the bytes and their order are unchanged. Returns false,
 * changing nothing, when the internals are not there (the version is pinned; the caller logs it).
 */
export function coalesceWrites(model: ChannelModel): boolean {
  const connection = model.connection as unknown as ConnectionInternals;
  const socket = connection.stream;
  const muxer = connection.muxer;
  if (socket === undefined || muxer === undefined || muxer.out !== socket) return false;
  const { cork, uncork } = socket;
  const readIncoming = muxer._readIncoming;
  if (typeof cork !== 'function' || typeof uncork !== 'function' || typeof readIncoming !== 'function') {
    return false;
  }
  muxer._readIncoming = function readIncomingCorked(this: unknown) {
    cork.call(socket);
    try {
      readIncoming.call(this);
    } finally {
      uncork.call(socket);
    }
  };
  return true;
}
