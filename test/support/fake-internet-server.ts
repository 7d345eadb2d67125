/**
 * The servers of the fake internet (see fake-internet.ts), run inside the fixture's
 * network namespace: `node --import tsx test/support/fake-internet-server.ts CONFIG_JSON_FILE`.
 * Every server binds 0.0.0.0, so each address of the namespace (the web hosts, the
 * "metadata" and the "private" address) answers the same way; replies name the local
 * address so a test can tell which one it reached. Prints `ready` once all listen.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server } from 'node:net';
import type { TLSSocket } from 'node:tls';
import dnsPacket from 'dns-packet';

export interface FakeInternetServerConfig {
  certPem: string;
  keyPem: string;
  /** Lowercase name → IPv4 address; anything else is NXDOMAIN. */
  zone: Record<string, string>;
}

const config = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as FakeInternetServerConfig;

function answer(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  // `/bytes?n=N` streams N bytes: the bandwidth-cap test measures it.
  if (url.pathname === '/bytes') {
    const total = Number(url.searchParams.get('n') ?? '0');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let left = total;
    const pump = (): void => {
      while (left > 0) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        if (!res.write(piece)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
    return;
  }
  const socket = req.socket as Partial<TLSSocket>;
  const body = JSON.stringify({
    host: req.headers.host ?? null,
    sni: typeof socket.servername === 'string' ? socket.servername : null,
    path: req.url ?? '/',
    local: req.socket.localAddress ?? null,
    remote: req.socket.remoteAddress ?? null,
    headers: req.headers,
  });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve());
  });
}

function resolveQuery(query: Buffer): Buffer {
  const request = dnsPacket.decode(query);
  const question = request.questions?.[0];
  const name = question?.name.toLowerCase() ?? '';
  const address = config.zone[name];
  const known = address !== undefined;
  return dnsPacket.encode({
    type: 'response',
    id: request.id ?? 0,
    // dns-packet encodes the rcode from the low flag bits only (3 = NXDOMAIN).
    flags: dnsPacket.AUTHORITATIVE_ANSWER | ((request.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | (known ? 0 : 3),
    questions: request.questions ?? [],
    answers:
      known && question?.type === 'A' ? [{ type: 'A', name: question.name, ttl: 60, class: 'IN', data: address }] : [],
  });
}

const http = createHttpServer(answer);
const https = createHttpsServer({ cert: config.certPem, key: config.keyPem }, answer);
const echo = createTcpServer((socket) => {
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});
const dnsTcp = createTcpServer((socket) => {
  let buffered = Buffer.alloc(0);
  socket.on('error', () => socket.destroy());
  socket.on('data', (data) => {
    buffered = Buffer.concat([buffered, data]);
    while (buffered.length >= 2) {
      const length = buffered.readUInt16BE(0);
      if (buffered.length < 2 + length) return;
      const reply = resolveQuery(buffered.subarray(2, 2 + length));
      buffered = buffered.subarray(2 + length);
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(reply.length);
      socket.write(Buffer.concat([prefix, reply]));
    }
  });
});
const dnsUdp = createSocket('udp4');
dnsUdp.on('message', (message, remote) => {
  try {
    dnsUdp.send(resolveQuery(message), remote.port, remote.address);
  } catch {
    // A malformed query gets no answer, like a real server under garbage.
  }
});

await Promise.all([listen(http, 80), listen(https, 443), listen(echo, 7000), listen(dnsTcp, 53)]);
await new Promise<void>((resolve, reject) => {
  dnsUdp.once('error', reject);
  dnsUdp.bind(53, '0.0.0.0', () => resolve());
});
process.stdout.write('ready\n');
// The fixture stops us with SIGTERM; exit promptly and quietly.
process.on('SIGTERM', () => process.exit(0));
