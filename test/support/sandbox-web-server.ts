/**
 * A dependency-free web server to run inside a sandbox with the Node the host mounts there
 * (`/opt/paddock/bin/node`), for the exposed-port tests and benchmark. `node server.cjs PORT
 * [HOST]` serves:
 * - `GET /hello`: JSON `{ port, method, url, headers, connection }` (what the sandbox saw;
 *   `connection` numbers the server's connections from 1);
 * - `POST /echo`: the request body back;
 * - `GET /bytes?n=N`: N bytes;
 * - `GET /stream?release=PATH`: a first chunk, then the second once PATH exists;
 * - a WebSocket upgrade on any path: text frames echoed back, prefixed with `echo:`.
 * A third argument sets the server's idle keep-alive timeout in ms.
 */
export const WEB_SERVER_SOURCE = String.raw`
const http = require('node:http');
const fs = require('node:fs');
const crypto = require('node:crypto');
const port = Number(process.argv[2]);
const host = process.argv[3] || '0.0.0.0';
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/hello') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ port, method: req.method, url: req.url, headers: req.headers, connection: req.socket.paddockId }));
  } else if (url.pathname === '/echo') {
    req.pipe(res);
  } else if (url.pathname === '/bytes') {
    let left = Number(url.searchParams.get('n'));
    res.setHeader('content-length', left);
    const block = Buffer.alloc(64 * 1024, 120);
    const pump = () => {
      while (left > 0) {
        const chunk = left >= block.length ? block : block.subarray(0, left);
        left -= chunk.length;
        if (!res.write(chunk)) return res.once('drain', pump);
      }
      res.end();
    };
    pump();
  } else if (url.pathname === '/stream') {
    const release = url.searchParams.get('release');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first\n');
    const timer = setInterval(() => {
      if (!fs.existsSync(release)) return;
      clearInterval(timer);
      res.end('second\n');
    }, 5);
    res.on('close', () => clearInterval(timer));
  } else {
    res.statusCode = 404;
    res.end('no route\n');
  }
});
server.on('upgrade', (req, socket) => {
  const accept = crypto
    .createHash('sha1')
    .update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    .digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + '\r\n\r\n');
  let buffered = Buffer.alloc(0);
  socket.on('data', (data) => {
    buffered = Buffer.concat([buffered, data]);
    for (;;) {
      if (buffered.length < 2) return;
      const opcode = buffered[0] & 15;
      let length = buffered[1] & 127;
      let offset = 2;
      if (length === 126) { length = buffered.readUInt16BE(2); offset = 4; }
      else if (length === 127) { length = Number(buffered.readBigUInt64BE(2)); offset = 10; }
      const masked = (buffered[1] & 128) !== 0;
      const total = offset + (masked ? 4 : 0) + length;
      if (buffered.length < total) return;
      const mask = masked ? buffered.subarray(offset, offset + 4) : null;
      const payload = Buffer.from(buffered.subarray(total - length, total));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
      buffered = buffered.subarray(total);
      if (opcode === 8) { socket.end(Buffer.from([0x88, 0])); return; }
      if (opcode !== 1) continue;
      const reply = Buffer.concat([Buffer.from('echo:'), payload]);
      const header = reply.length < 126 ? Buffer.from([0x81, reply.length]) : Buffer.from([0x81, 126, reply.length >> 8, reply.length & 255]);
      socket.write(Buffer.concat([header, reply]));
    }
  });
  socket.on('error', () => socket.destroy());
});
// Numbers the connections, so a test can tell a reused one from a new one.
let connections = 0;
server.on('connection', (socket) => { socket.paddockId = ++connections; });
// Optional idle keep-alive timeout (ms): lets a test make the server drop idle connections.
if (process.argv[4]) server.keepAliveTimeout = Number(process.argv[4]);
server.listen(port, host, () => console.log('listening ' + host + ':' + port));
`;

/** Runs `WEB_SERVER_SOURCE` with the host's Node, mounted read-only in every sandbox. */
export function webServerCommand(scriptPath: string, port: number, host = '0.0.0.0', keepAliveMs?: number): string {
  const node = '/opt/paddock/lib/ld-linux-x86-64.so.2 --library-path /opt/paddock/lib /opt/paddock/bin/node';
  return `exec ${node} ${scriptPath} ${port} ${host}${keepAliveMs === undefined ? '' : ` ${keepAliveMs}`}`;
}
