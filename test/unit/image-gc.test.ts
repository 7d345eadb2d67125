import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { collectImageGarbage, withPulledImage } from '../../packages/server/src/templates/images/image-gc.js';

const layout = mkdtempSync(join(tmpdir(), 'paddock-image-gc-'));
after(() => rmSync(layout, { recursive: true, force: true }));
mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [] }));

/** Writes a blob (content-addressed) and returns its path; `ageMs` back-dates it. */
function blob(content: string, ageMs = 0): string {
  const path = join(layout, 'blobs', 'sha256', createHash('sha256').update(content).digest('hex'));
  writeFileSync(path, content);
  const at = new Date(Date.now() - ageMs);
  utimesSync(path, at, at);
  return path;
}

test('GC keeps what a pull in flight wrote, even before its image is known, and nothing older', async () => {
  const stale = blob('left by an earlier, removed image', 60_000);
  let fresh = '';
  await withPulledImage(
    async () => {
      fresh = blob('written by this pull');
      // A removal elsewhere collects garbage while this pull's image is not marked yet.
      await collectImageGarbage(layout, []);
      return 'sha256:0000000000000000000000000000000000000000000000000000000000000000';
    },
    async () => {
      assert.ok(existsSync(fresh), 'a blob of the pull in flight was collected');
    },
  );
  assert.ok(!existsSync(stale), 'an unreferenced blob older than every pull stays');
  // Once the pull is over and nothing refers to its blob, it is garbage like any other.
  await collectImageGarbage(layout, []);
  assert.ok(!existsSync(fresh));
});
