import type { AgentClient } from '../../agent-client/agent-client.js';
import type { SandboxRecord } from '../../core/seams/store.js';
import { ConnectError } from './connect-protocol.js';

/** What one envd call runs against: the sandbox, its agent, and the Linux user it acts as. */
export interface EnvdCall {
  record: SandboxRecord;
  agent: AgentClient;
  /** From `Authorization: Basic base64(user:)`; undefined means the template's default user. */
  user: string | undefined;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
  /** `Connect-Timeout-Ms`, when the client sent one. */
  timeoutMs: number | undefined;
  /** `Keepalive-Ping-Interval` in ms (envd's default: 90 s). */
  keepaliveMs: number;
}

/** Home of the acting user: relative paths resolve against it (envd's rule). */
export function homeOf(user: string | undefined): string {
  if (user === 'root') return '/root';
  return `/home/${user ?? 'user'}`;
}

/** An absolute path for the agent: relative (or empty) paths resolve against the user's home. */
export function resolvePath(path: unknown, user: string | undefined, field = 'path'): string {
  if (path !== undefined && typeof path !== 'string')
    throw new ConnectError('invalid_argument', `${field} must be a string`);
  const p = path ?? '';
  if (p.startsWith('/')) return p;
  const home = homeOf(user);
  return p === '' ? home : `${home}/${p}`;
}

/** The Basic-auth user name (password empty: it selects a user, it is not a credential). */
export function basicUserOf(authorization: string | undefined): string | undefined {
  if (!authorization?.toLowerCase().startsWith('basic ')) return undefined;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const name = decoded.split(':')[0];
  return name === undefined || name === '' ? undefined : name;
}

/** A plain object field of a JSON message, for lenient reading of proto3 JSON. */
export function objectField(message: unknown, ...names: string[]): Record<string, unknown> | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  for (const name of names) {
    const value = (message as Record<string, unknown>)[name];
    if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
  }
  return undefined;
}

/** A scalar field under its camelCase or snake_case name. */
export function field(message: unknown, ...names: string[]): unknown {
  if (typeof message !== 'object' || message === null) return undefined;
  for (const name of names) {
    const value = (message as Record<string, unknown>)[name];
    if (value !== undefined && value !== null) return value;
  }
  return undefined;
}
