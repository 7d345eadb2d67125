import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Traffic addressed to a port inside a sandbox rather than to the control API.
 *
 * One listener serves both, like E2B's edge: a request is sandbox traffic when it names a
 * sandbox and port, either by headers (for clients that cannot use wildcard hosts, and the
 * E2B SDKs' `E2B_SANDBOX_URL` mode) or by a Host of the form `{port}-{id}.{domain}`.
 */
export interface SandboxTarget {
  sandboxId: string;
  port: number;
  /** How the request named its target: by Host or by headers. */
  via: 'host' | 'header';
}

/** Handles every request and WebSocket upgrade for one in-sandbox port (or all of them). */
export interface SandboxPortHandler {
  handleRequest(req: IncomingMessage, res: ServerResponse, target: SandboxTarget): void;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: SandboxTarget): void;
}

const SANDBOX_HOST = /^(\d{1,5})-([a-z0-9]+)\./;
const SANDBOX_ID = /^[a-z0-9]+$/;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The sandbox and port a request is for, or undefined for control-API traffic.
 * Headers win over the Host (`X-Paddock-Sandbox`/`X-Paddock-Port`, or E2B's
 * `E2b-Sandbox-Id`/`E2b-Sandbox-Port`); a malformed pair is not sandbox traffic.
 */
export function sandboxTargetOf(headers: IncomingHttpHeaders): SandboxTarget | undefined {
  const byHeaderId = header(headers, 'x-paddock-sandbox') ?? header(headers, 'e2b-sandbox-id');
  if (byHeaderId !== undefined) {
    const port = Number(header(headers, 'x-paddock-port') ?? header(headers, 'e2b-sandbox-port'));
    if (!SANDBOX_ID.test(byHeaderId) || !Number.isInteger(port)) return undefined;
    return { sandboxId: byHeaderId, port, via: 'header' };
  }
  const match = SANDBOX_HOST.exec(header(headers, 'host') ?? '');
  if (!match) return undefined;
  return { sandboxId: match[2] as string, port: Number(match[1]), via: 'host' };
}

/**
 * Dispatches sandbox traffic before the control API sees it: fixed ports first (the E2B
 * facade claims envd's 49983 and the code interpreter's 49999), then the exposed-port proxy.
 */
export class SandboxTrafficRouter {
  private readonly byPort = new Map<number, SandboxPortHandler>();
  private fallback: SandboxPortHandler | undefined;

  /** Claims one in-sandbox port number for every sandbox. */
  registerPort(port: number, handler: SandboxPortHandler): void {
    if (this.byPort.has(port)) throw new Error(`port ${port} already has a sandbox traffic handler`);
    this.byPort.set(port, handler);
  }

  /** Handles every port nobody claimed (the exposed-port proxy). */
  setDefault(handler: SandboxPortHandler): void {
    this.fallback = handler;
  }

  private handlerFor(req: IncomingMessage): [SandboxPortHandler, SandboxTarget] | undefined {
    const target = sandboxTargetOf(req.headers);
    if (!target) return undefined;
    const handler = this.byPort.get(target.port) ?? this.fallback;
    return handler ? [handler, target] : undefined;
  }

  /** True when the request was sandbox traffic and has been taken over. */
  route(req: IncomingMessage, res: ServerResponse): boolean {
    const found = this.handlerFor(req);
    if (!found) return false;
    found[0].handleRequest(req, res, found[1]);
    return true;
  }

  /** True when the upgrade was sandbox traffic and has been taken over. */
  routeUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const found = this.handlerFor(req);
    if (!found) return false;
    found[0].handleUpgrade(req, socket, head, found[1]);
    return true;
  }
}
