import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ERROR_CODES, type ErrorBody } from '@paddock/protocol';

/** The `Upgrade` token of a tunnel request: raw bytes to a TCP port inside the sandbox. */
export const TUNNEL_PROTOCOL = 'paddock-tunnel';

/** Loopback first over IPv4, then IPv6: a server bound to either (or to all addresses) is found. */
const LOOPBACKS = ['127.0.0.1', '::1'] as const;

/**
 * `GET /tunnel?port=N` with `Upgrade: paddock-tunnel`: connects to port N on the sandbox's
 * loopback and, once connected, answers 101 and splices the two sockets. Going through the
 * agent rather than the sandbox's network makes it work in every isolation and egress mode
 * (gVisor without a network, servers bound to 127.0.0.1 only).
 */
export function handleTunnel(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const url = new URL(req.url ?? '/', 'http://agent');
  const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
  if (url.pathname !== '/tunnel' || req.method !== 'GET' || upgrade !== TUNNEL_PROTOCOL) {
    refuse(socket, {
      code: 'NOT_FOUND',
      message: `the agent has no upgrade route ${req.method} ${url.pathname} (${upgrade})`,
    });
    return;
  }
  const port = Number(url.searchParams.get('port'));
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    refuse(socket, { code: 'INVALID_ARGUMENT', message: '`port` must be an integer from 1 to 65535' });
    return;
  }
  socket.on('error', () => socket.destroy());
  connectLoopback(port, 0, (upstream) => {
    if (upstream === undefined) {
      refuse(socket, {
        code: 'PORT_NOT_OPEN',
        message: `nothing listens on port ${port}; start a server bound to 0.0.0.0 or 127.0.0.1`,
        details: { port },
      });
      return;
    }
    if (socket.destroyed) {
      upstream.destroy();
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${TUNNEL_PROTOCOL}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    splice(socket, upstream);
  });
}

function connectLoopback(port: number, index: number, done: (socket: Socket | undefined) => void): void {
  const host = LOOPBACKS[index];
  if (host === undefined) {
    done(undefined);
    return;
  }
  const upstream = connect({ host, port });
  upstream.setNoDelay(true);
  const onError = () => connectLoopback(port, index + 1, done);
  upstream.once('error', onError);
  upstream.once('connect', () => {
    upstream.off('error', onError);
    done(upstream);
  });
}

/** The host sides of open tunnels, closed by a quiesce (a checkpoint cannot keep them). */
const open = new Set<Duplex>();

/** Ends every open tunnel (before a checkpoint). */
export function closeAllTunnels(): void {
  for (const socket of open) socket.destroy();
}

/** Pipes both ways; an end is passed on (half-close), an error or close on either side ends both. */
function splice(a: Duplex, b: Duplex): void {
  open.add(a);
  a.pipe(b);
  b.pipe(a);
  const destroyBoth = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', destroyBoth);
  b.on('error', destroyBoth);
  // A side that closed without an error still lets the other flush what it has, then end.
  a.on('close', () => {
    open.delete(a);
    b.end();
  });
  b.on('close', () => a.end());
}

function refuse(socket: Duplex, error: ErrorBody): void {
  const body = JSON.stringify(error);
  const status = ERROR_CODES[error.code].status;
  socket.end(
    `HTTP/1.1 ${status} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
