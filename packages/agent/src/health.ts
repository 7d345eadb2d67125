import type { ServerResponse } from 'node:http';

/** `GET /health`: `{ ok, pid, uptimeMs }`; cheap, and free of the request-handling modules. */
export function answerHealth(res: ServerResponse): void {
  const body = JSON.stringify({ ok: true, pid: process.pid, uptimeMs: Math.round(performance.now()) });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
