import { randomBytes } from 'node:crypto';
import type { Store } from '../core/seams/store.js';

/** A named 32-byte server key (HMAC secrets for tokens), random on first use, then kept in the store. */
export function serverSecretBytes(store: Pick<Store, 'secret'>, name: string): Buffer {
  return Buffer.from(
    store.secret(name, () => randomBytes(32).toString('hex')),
    'hex',
  );
}
