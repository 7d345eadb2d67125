import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';

const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Creates the empty file `path` in a directory the sandbox can write (its `/run/paddock`),
 * never through a link the sandbox planted there: host root writing with a link-following
 * `writeFile` would create or truncate any host file the link names. An existing entry is
 * unlinked (unlink never follows), then the file is made with O_CREAT|O_EXCL|O_NOFOLLOW, which
 * fails rather than follow; a sandbox that keeps re-planting the name gets an error after a
 * few tries. The directories above `path` must be host-made (the sandbox cannot swap them).
 */
export async function createMarkerFile(path: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await rm(path, { force: true });
    try {
      await (await open(path, CREATE_NEW, 0o644)).close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new Error(`${path} is re-created by the sandbox as fast as it is removed; not writing through it`);
}
