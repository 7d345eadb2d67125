import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A new sandbox id: 20 chars of [a-z0-9] (~103 bits). Fixed length because runsc resolves
 * ids by prefix, and no `-` because of the `{port}-{id}.{domain}` host pattern.
 */
export function newSandboxId(): string {
  const bytes = randomBytes(20);
  let id = '';
  // 252 = 7 * 36: drop bytes above it so that every letter is equally likely.
  for (let i = 0; id.length < 20; i++) {
    const b = i < bytes.length ? bytes[i]! : randomBytes(1)[0]!;
    if (b < 252) id += ALPHABET[b % 36];
  }
  return id;
}
