import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { TOKEN_PARAM } from './exposed-ports.js';

/** Where a request carried its port token, and the request as the sandbox must see it. */
export interface TokenedRequest {
  token: string | undefined;
  /** True when the token came as `?paddock_token=` (the browser gets it as a cookie then). */
  fromQuery: boolean;
  /** The request path with `paddock_token` removed from the query. */
  path: string;
}

/**
 * Finds the port token: the `X-Paddock-Token` header, else the `paddock_token` query
 * parameter, else the `paddock_token` cookie. The first one present is the one checked:
 * a bad header is not rescued by a good cookie.
 */
export function takeToken(req: IncomingMessage): TokenedRequest {
  const url = req.url ?? '/';
  const queryStart = url.indexOf('?');
  let path = url;
  let fromParam: string | undefined;
  if (queryStart >= 0) {
    const params = new URLSearchParams(url.slice(queryStart + 1));
    fromParam = params.get(TOKEN_PARAM) ?? undefined;
    if (fromParam !== undefined) {
      params.delete(TOKEN_PARAM);
      const rest = params.toString();
      path = url.slice(0, queryStart) + (rest === '' ? '' : `?${rest}`);
    }
  }
  const fromHeader = headerValue(req.headers, 'x-paddock-token');
  if (fromHeader !== undefined) return { token: fromHeader, fromQuery: false, path };
  if (fromParam !== undefined) return { token: fromParam, fromQuery: true, path };
  return { token: cookieToken(req.headers.cookie), fromQuery: false, path };
}

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Headers that belong to Paddock or to the E2B SDKs, never to the sandbox's server: routing,
 * port tokens (`X-Paddock-*`), E2B's routing and traffic token (`E2b-*`) and envd's access token
 * (`X-Access-Token`, which E2B clients attach by default). A sandbox runs untrusted code.
 */
function isPlatformHeader(name: string): boolean {
  return name.startsWith('x-paddock-') || name.startsWith('e2b-') || name === 'x-access-token';
}

/** What the proxy asks about a request's credentials. */
export interface ForwardOptions {
  /** Keeps `Connection: Upgrade` and `Upgrade` (a WebSocket). */
  upgrade: boolean;
  /**
   * True for a key of this server's API. `Authorization: Bearer` and `X-API-Key` are dropped
   * when they carry one (a client with a default bearer would hand the key to the sandbox);
   * other values are the app's own credentials and pass.
   */
  isApiKey: (key: string) => boolean;
}

/**
 * The headers to send on to the sandbox: hop-by-hop ones (and those the Connection header
 * names) dropped, Paddock's and E2B's headers, the token cookie and the API key removed, the
 * Host kept, X-Forwarded-* added.
 */
export function forwardHeaders(req: IncomingMessage, options: ForwardOptions): OutgoingHttpHeaders {
  const dropped = connectionTokens(req.headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || isPlatformHeader(name) || dropped.has(name)) continue;
    if (carriesApiKey(name, value, options.isApiKey)) continue;
    if (name === 'cookie') {
      const kept = withoutTokenCookie(String(value));
      if (kept !== '') out.cookie = kept;
      continue;
    }
    out[name] = value;
  }
  if (options.upgrade) {
    out.connection = 'Upgrade';
    if (req.headers.upgrade !== undefined) out.upgrade = req.headers.upgrade;
  }
  const client = req.socket.remoteAddress;
  if (client !== undefined) {
    const prior = headerValue(req.headers, 'x-forwarded-for');
    out['x-forwarded-for'] = prior === undefined ? client : `${prior}, ${client}`;
  }
  out['x-forwarded-proto'] ??= 'http';
  if (req.headers.host !== undefined) out['x-forwarded-host'] ??= req.headers.host;
  return out;
}

/** The sandbox server's response headers minus the hop-by-hop ones. */
export function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const dropped = connectionTokens(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || dropped.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** The raw request head for a spliced upgrade: request line, headers, blank line. */
export function requestHead(method: string, path: string, headers: OutgoingHttpHeaders): string {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) head += `${name}: ${one}\r\n`;
  }
  return `${head}\r\n`;
}

/** The API accepts its key as `Authorization: Bearer KEY` or `X-API-Key: KEY` (api/auth.ts). */
function carriesApiKey(name: string, value: string | string[], isApiKey: (key: string) => boolean): boolean {
  const values = Array.isArray(value) ? value : [value];
  if (name === 'x-api-key') return values.some((v) => isApiKey(v.trim()));
  if (name !== 'authorization') return false;
  return values.some((v) => {
    const bearer = /^bearer\s+(.+)$/i.exec(v.trim());
    return bearer !== null && isApiKey((bearer[1] as string).trim());
  });
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function connectionTokens(headers: IncomingHttpHeaders): Set<string> {
  const value = headerValue(headers, 'connection') ?? '';
  return new Set(
    value
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== '' && t !== 'upgrade'),
  );
}

function cookiePairs(cookie: string): string[] {
  return cookie
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c !== '');
}

function cookieToken(cookie: string | undefined): string | undefined {
  if (cookie === undefined) return undefined;
  const pair = cookiePairs(cookie).find((c) => c.startsWith(`${TOKEN_PARAM}=`));
  return pair?.slice(TOKEN_PARAM.length + 1);
}

function withoutTokenCookie(cookie: string): string {
  return cookiePairs(cookie)
    .filter((c) => !c.startsWith(`${TOKEN_PARAM}=`))
    .join('; ');
}
