/**
 * Recognising plain HTTP/1.x on a fresh connection and reading the name it is for. The
 * egress proxy parses every request itself (node's HTTP parser) once it knows a connection
 * speaks HTTP, so that each request's Host is checked, not only the first one's.
 */

export type HttpSniff = 'http' | 'not-http' | 'incomplete';

/** Methods a client may open an HTTP/1.x connection with. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];
const LONGEST_METHOD = Math.max(...METHODS.map((m) => m.length));

/** Whether `data`, the first bytes of a connection, starts an HTTP/1.x request line. */
export function sniffHttp(data: Buffer): HttpSniff {
  const prefix = data.subarray(0, LONGEST_METHOD + 1).toString('latin1');
  for (const method of METHODS) {
    const token = `${method} `;
    if (prefix.startsWith(token)) return 'http';
    if (token.startsWith(prefix)) return 'incomplete';
  }
  return 'not-http';
}

/** A host name from a Host header or an absolute URI: lowercase, no port, no trailing dot. */
export interface HostAndPort {
  host: string;
  port: number | undefined;
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$/;

/**
 * Parses a Host header value (`Example.com:8080`, `[::1]:80`, `example.com.`). Undefined when
 * it is not a plausible name or address: such requests are refused, never guessed at.
 */
export function parseHostHeader(value: string | undefined): HostAndPort | undefined {
  if (value === undefined) return undefined;
  const raw = value.trim().toLowerCase();
  let host: string;
  let portText: string | undefined;
  if (raw.startsWith('[')) {
    const end = raw.indexOf(']');
    if (end < 0) return undefined;
    host = raw.slice(1, end);
    const rest = raw.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) return undefined;
    portText = rest === '' ? undefined : rest.slice(1);
    if (!/^[0-9a-f:.]+$/.test(host)) return undefined;
  } else {
    const colon = raw.lastIndexOf(':');
    host = colon < 0 ? raw : raw.slice(0, colon);
    portText = colon < 0 ? undefined : raw.slice(colon + 1);
    host = host.replace(/\.$/, '');
    if (!HOST_NAME.test(host)) return undefined;
  }
  if (portText === undefined) return { host, port: undefined };
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  return port >= 1 && port <= 65_535 ? { host, port } : undefined;
}
