import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/**
 * A stream over `socket` that first yields `prefix` (bytes already read from it to find out
 * what it speaks). Node's HTTP and TLS servers read a net.Socket's handle directly, past any
 * `unshift`, so they get this JS stream instead. Backpressure runs both ways.
 */
export function prefixedStream(socket: Socket, prefix: Buffer): Duplex {
  const stream = new Duplex({
    allowHalfOpen: true,
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (socket.write(chunk)) callback();
      else socket.once('drain', () => callback());
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  // Node's HTTP server closes idle keep-alive connections through `setTimeout`, which only
  // net.Socket has: forward it to the real socket, and its 'timeout' back.
  Object.assign(stream, {
    setTimeout(timeoutMs: number, onTimeout?: () => void) {
      socket.setTimeout(timeoutMs);
      if (onTimeout) stream.once('timeout', onTimeout);
      return stream;
    },
  });
  socket.on('timeout', () => stream.emit('timeout'));
  if (prefix.length > 0) stream.push(prefix);
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('error', (err) => stream.destroy(err));
  socket.on('close', () => stream.destroy());
  return stream;
}
