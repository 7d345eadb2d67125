import { createHash, type Hash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

const MiB = 1_048_576;

/**
 * `sizeBytes` of pseudo-random bytes, made on the fly (a counter stamped into a random block so
 * that no two MiB are alike), hashed as they go out: big transfers without a big file or buffer.
 */
export function generated(
  sizeBytes: number,
  hash: Hash = createHash('sha256'),
): { stream: Readable; digest: () => string } {
  const block = randomBytes(MiB);
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= sizeBytes) return this.push(null);
      const chunk = Buffer.from(block.subarray(0, Math.min(MiB, sizeBytes - sent)));
      chunk.writeDoubleLE(sent, 0);
      sent += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}
