import { join } from 'node:path';

/**
 * Where the server keeps its state under the data dir. One place, so that every module
 * (and the leak check in the tests) agrees on the layout.
 */
export interface DataPaths {
  root: string;
  /** SQLite database. */
  db: string;
  /** Built templates: `<templates>/<specHash>/rootfs` plus `meta.json`. */
  templates: string;
  /** Dockerfile step layers by cache key: `<buildCache>/<key>/layer` (see templates/steps). */
  buildCache: string;
  /** Per-sandbox host dirs: writable layer, bundle, control socket dir, logs. */
  sandboxes: string;
  /** State dirs of the OCI runtimes (`crun --root`, `runsc --root`). */
  runtimeState: string;
  /** The host's boot id at the last start, to tell a reboot from a crash (see host-boot.ts). */
  bootId: string;
}

export function dataPaths(root: string): DataPaths {
  return {
    root,
    db: join(root, 'paddock.db'),
    templates: join(root, 'templates'),
    buildCache: join(root, 'build-cache'),
    sandboxes: join(root, 'sandboxes'),
    runtimeState: join(root, 'runtime'),
    bootId: join(root, 'boot-id'),
  };
}
