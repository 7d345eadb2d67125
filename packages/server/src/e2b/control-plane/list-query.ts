import { PaddockError } from '@paddock/protocol';
import type { SandboxRecord } from '../../core/seams/store.js';
import { e2bStateOf } from './e2b-sandbox.js';

const MAX_PAGE = 100;

/** `GET /v2/sandboxes` query, as the SDKs send it (docs/e2b-protocol.md §2.2). */
export interface E2bListQuery {
  metadata?: string;
  state?: string;
  startedAfter?: string;
  template?: string;
  order?: string;
  limit?: string;
  nextToken?: string;
}

/**
 * `metadata` arrives encoded once more than the query itself: the SDK joins the
 * URI-encoded pairs as a query string and the serializer encodes that again.
 */
export function parseMetadataFilter(raw: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const part of decodeURIComponent(raw).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    pairs[key] = decodeURIComponent(eq < 0 ? '' : part.slice(eq + 1));
  }
  return pairs;
}

function invalid(field: string, message: string): PaddockError {
  return new PaddockError('INVALID_ARGUMENT', `${field}: ${message}`, { field });
}

/** One page of sandboxes and the token of the next (undefined on the last page). */
export function listPage(
  all: SandboxRecord[],
  query: E2bListQuery,
): { page: SandboxRecord[]; nextToken: string | undefined } {
  const states = new Set((query.state ?? 'running,paused').split(',').filter((s) => s !== ''));
  for (const s of states)
    if (s !== 'running' && s !== 'paused') throw invalid('state', `'${s}' is not running or paused`);
  const metadata = query.metadata ? parseMetadataFilter(query.metadata) : {};
  let after = Number.NEGATIVE_INFINITY;
  if (query.startedAfter !== undefined) {
    after = Date.parse(query.startedAfter);
    if (Number.isNaN(after)) throw invalid('startedAfter', 'must be an RFC 3339 timestamp');
  }
  if (query.order !== undefined && query.order !== 'asc' && query.order !== 'desc') {
    throw invalid('order', "must be 'asc' or 'desc'");
  }
  const limit = query.limit === undefined ? MAX_PAGE : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw invalid('limit', `must be 1 to ${MAX_PAGE}`);
  const decoded = query.nextToken ? Buffer.from(query.nextToken, 'base64url').toString() : '0';
  if (!/^\d{1,9}$/.test(decoded)) throw invalid('nextToken', 'is not a token this server issued');
  const offset = Number(decoded);

  const sign = query.order === 'asc' ? 1 : -1;
  const matching = all
    .filter((r) => states.has(e2bStateOf(r)))
    .filter((r) => r.createdAtMs > after)
    .filter((r) => query.template === undefined || r.template === query.template)
    .filter((r) => Object.entries(metadata).every(([k, v]) => r.metadata[k] === v))
    .sort((a, b) => sign * (a.createdAtMs - b.createdAtMs) || a.id.localeCompare(b.id));
  const page = matching.slice(offset, offset + limit);
  const next = offset + limit;
  return { page, nextToken: next < matching.length ? Buffer.from(String(next)).toString('base64url') : undefined };
}
