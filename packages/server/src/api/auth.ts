import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../core/seams/store.js';

/** API keys are stored only as SHA-256 hashes; the plain key is shown once. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * A fresh key: `pdk_` + 32 hex chars, or in E2B's format `e2b_` + 40 hex chars (the Python E2B
 * SDK refuses keys that do not match `^e2b_[0-9a-f]+$`), so that one key serves both SDKs.
 */
export function generateApiKey(format: 'paddock' | 'e2b' = 'paddock'): string {
  return format === 'e2b' ? `e2b_${randomBytes(20).toString('hex')}` : `pdk_${randomBytes(16).toString('hex')}`;
}

/**
 * Makes sure the server has a key: the configured one (stored hashed, so scripts and CI can
 * start the server headless), or on first start a generated one that the caller prints once.
 * Returns the generated key, if one was made.
 */
export function ensureApiKey(
  store: Store,
  configured: string | undefined,
  format: 'paddock' | 'e2b' = 'paddock',
): string | undefined {
  if (configured) {
    store.addApiKeyHash(hashApiKey(configured), 'configured');
    return undefined;
  }
  if (store.countApiKeys() > 0) return undefined;
  const key = generateApiKey(format);
  store.addApiKeyHash(hashApiKey(key), 'generated on first start');
  return key;
}

/** The key of a request: `Authorization: Bearer KEY` or `X-API-Key: KEY`. */
export function apiKeyOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim();
  const key = headers['x-api-key'];
  return typeof key === 'string' ? key : undefined;
}
