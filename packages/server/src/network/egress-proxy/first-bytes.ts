import type { Socket } from 'node:net';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from './client-hello.js';
import { sniffHttp } from './http-head.js';

/** What a connection turned out to speak, with the bytes read to find out. */
export type FirstBytes =
  | { kind: 'tls'; serverName: string | undefined; bytes: Buffer }
  | { kind: 'http'; bytes: Buffer }
  | { kind: 'unknown'; reason: string };

/**
 * Reads from `socket` until its first bytes show a TLS ClientHello (with its SNI) or an
 * HTTP/1.x request line. Leaves the socket paused and its 'data' listener removed, so the
 * caller decides where the bytes go. Gives up after `timeoutMs` or `MAX_CLIENT_HELLO_BYTES`.
 */
export function readFirstBytes(socket: Socket, timeoutMs: number): Promise<FirstBytes> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (result: FirstBytes) => {
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      resolve(result);
    };
    const onEnd = () => finish({ kind: 'unknown', reason: 'closed before sending a request' });
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      const bytes = Buffer.concat(chunks, length);
      const hello = parseClientHello(bytes);
      if (hello.kind === 'client-hello') return finish({ kind: 'tls', serverName: hello.serverName, bytes });
      if (hello.kind === 'malformed')
        return finish({ kind: 'unknown', reason: `bad TLS ClientHello: ${hello.reason}` });
      if (hello.kind === 'not-tls') {
        const http = sniffHttp(bytes);
        if (http === 'http') return finish({ kind: 'http', bytes });
        if (http === 'not-http') return finish({ kind: 'unknown', reason: 'neither TLS nor HTTP/1.x' });
      }
      if (length > MAX_CLIENT_HELLO_BYTES) finish({ kind: 'unknown', reason: 'no request in the first 16 KiB' });
    };
    const timer = setTimeout(
      () => finish({ kind: 'unknown', reason: `nothing recognisable within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}
