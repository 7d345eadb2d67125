import { type IncomingHttpHeaders, type RequestOptions, request } from 'node:http';

/** What came back for one raw request. */
export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One raw HTTP request, for what `fetch` cannot send (a Host header of our choosing, no proxy
 * of our own, an agent of our own). The body is read as UTF-8. An accepted upgrade answers
 * 101 with an empty body, its socket closed at once: the test only wants to know it was let in.
 */
export function httpRequest(options: RequestOptions, body?: string | Buffer): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(options);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One raw request to a server on 127.0.0.1:`port` (GET unless `opts.method` says otherwise). */
export function loopbackRequest(
  port: number,
  path: string,
  headers: Record<string, string>,
  opts: { method?: string; body?: string | Buffer } = {},
): Promise<HttpAnswer> {
  return httpRequest({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers }, opts.body);
}
