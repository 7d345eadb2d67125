/**
 * The front door of the test registry, run inside the fixture's network namespace by
 * test-registry.ts: an HTTP proxy on ADDR:5000 to docker-registry on 127.0.0.1:5001 that logs
 * every request (a JSON line `{"method","path","status"}` on stdout, for resume tests) and, in
 * `token` mode, plays Docker Hub: a token server on ADDR:5001 checks basic credentials and
 * hands out bearer tokens; the proxy answers 401 with a `Bearer realm=…` challenge to any
 * request without a valid one. Prints `ready` once both listen.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';

interface Config {
  address: string;
  auth: 'none' | 'basic' | 'token';
  users: Record<string, string>;
}

const config = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as Config;
const tokens = new Set<string>();
const SERVICE = 'paddock-test-registry';
const realm = `http://${config.address}:5001/token`;

function log(entry: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
}

function basicUser(req: IncomingMessage): boolean {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice(6), 'base64').toString();
  const colon = decoded.indexOf(':');
  return colon > 0 && config.users[decoded.slice(0, colon)] === decoded.slice(colon + 1);
}

function scopeFor(path: string): string {
  const match = /^\/v2\/(.+)\/(manifests|blobs|tags)\//.exec(path);
  return match === null ? '' : `,scope="repository:${match[1]}:pull,push"`;
}

function challenge(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(401, {
    'content-type': 'application/json',
    'docker-distribution-api-version': 'registry/2.0',
    'www-authenticate': `Bearer realm="${realm}",service="${SERVICE}"${scopeFor(req.url ?? '/')}`,
  });
  res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
  log({ method: req.method, path: req.url, status: 401 });
}

/** Blob digests whose GETs stop after their first chunk until `/__control/release` (abort tests). */
const stalled = new Set<string>();
const held: (() => void)[] = [];

function control(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/__control/stall') stalled.add(url.searchParams.get('digest') ?? '');
  if (url.pathname === '/__control/release') {
    stalled.clear();
    for (const resume of held.splice(0)) resume();
  }
  res.end('ok');
}

function isStalled(path: string): boolean {
  const match = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(path);
  return match?.[1] !== undefined && stalled.has(match[1]);
}

const proxy = createServer((req, res) => {
  if ((req.url ?? '').startsWith('/__control/')) {
    control(req, res);
    return;
  }
  if (config.auth === 'token') {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ') || !tokens.has(header.slice(7))) {
      challenge(req, res);
      return;
    }
  }
  const headers = { ...req.headers };
  // The registry itself runs without auth in token mode; in basic mode it checks htpasswd.
  if (config.auth === 'token') delete headers.authorization;
  const upstream = request({ host: '127.0.0.1', port: 5001, method: req.method, path: req.url, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    if (req.method === 'GET' && isStalled(req.url ?? '')) {
      answer.once('data', (first: Buffer) => {
        answer.pause();
        res.write(first);
        log({ method: req.method, path: req.url, status: answer.statusCode, stalled: true });
        held.push(() => answer.pipe(res));
      });
      answer.on('end', () => res.end());
      res.on('close', () => answer.destroy());
      answer.on('end', () => log({ method: req.method, path: req.url, status: answer.statusCode }));
      return;
    }
    answer.pipe(res);
    answer.on('end', () => log({ method: req.method, path: req.url, status: answer.statusCode }));
  });
  upstream.on('error', (error) => {
    res.writeHead(502);
    res.end(String(error));
  });
  req.pipe(upstream);
});

const tokenServer = createServer((req, res) => {
  if (!basicUser(req)) {
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': `Basic realm="${SERVICE}"` });
    res.end(JSON.stringify({ details: 'incorrect username or password' }));
    log({ method: req.method, path: req.url, status: 401, token: true });
    return;
  }
  const token = randomBytes(16).toString('hex');
  tokens.add(token);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  log({ method: req.method, path: req.url, status: 200, token: true });
});

/** docker-registry starts beside this process; answer nothing until it listens. */
async function upstreamReady(): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const up = await new Promise<boolean>((resolve) => {
      const probe = request({ host: '127.0.0.1', port: 5001, path: '/v2/' }, (answer) => {
        answer.resume();
        resolve(true);
      });
      probe.on('error', () => resolve(false));
      probe.end();
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('docker-registry did not listen on 127.0.0.1:5001 in 10 s');
}

await upstreamReady();
let listening = config.auth === 'token' ? 2 : 1;
const onListening = (): void => {
  listening -= 1;
  if (listening === 0) process.stdout.write('ready\n');
};
proxy.listen(5000, config.address, onListening);
if (config.auth === 'token') tokenServer.listen(5001, config.address, onListening);
process.on('SIGTERM', () => process.exit(0));
