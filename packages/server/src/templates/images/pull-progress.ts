import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageProgress } from './image-types.js';
import type { PullPlan } from './pull-plan.js';

/** How often the layout is looked at; skopeo prints no byte counts when not on a TTY. */
const POLL_MS = 250;
/** skopeo's oci destination writes each blob to a temp file of this prefix in the layout, then renames it. */
export const SKOPEO_TEMP_PREFIX = 'oci-put-blob';

/**
 * Reports pull progress by watching the layout: a layer is done when its blob exists; bytes
 * are the done layers' sizes plus the growing temp files. The temp files may belong to the
 * config blob too, so bytes are capped below the total until the copy ends.
 */
export function watchPullProgress(options: {
  layoutDir: string;
  plan: PullPlan | undefined;
  onProgress: (progress: ImageProgress) => void;
}): { stop(finished: boolean): Promise<void> } {
  const layers = options.plan?.layers ?? [];
  const bytesTotal = options.plan === undefined ? undefined : layers.reduce((sum, layer) => sum + layer.size, 0);
  let last = '';
  const emit = (progress: ImageProgress): void => {
    const key = JSON.stringify(progress);
    if (key === last) return;
    last = key;
    options.onProgress(progress);
  };
  const sample = async (): Promise<void> => {
    const blobs = new Set(await readdir(join(options.layoutDir, 'blobs', 'sha256')).catch(() => []));
    const done = layers.filter((layer) => blobs.has(layer.digest.replace(/^sha256:/, '')));
    let bytesDone = done.reduce((sum, layer) => sum + layer.size, 0);
    const names = await readdir(options.layoutDir).catch(() => []);
    for (const name of names.filter((n) => n.startsWith(SKOPEO_TEMP_PREFIX))) {
      bytesDone += await stat(join(options.layoutDir, name)).then(
        (s) => s.size,
        () => 0,
      );
    }
    if (bytesTotal !== undefined) bytesDone = Math.min(bytesDone, Math.max(0, bytesTotal - 1));
    emit({
      phase: 'pull',
      layersDone: done.length,
      layersTotal: layers.length,
      bytesDone,
      ...(bytesTotal === undefined ? {} : { bytesTotal }),
    });
  };
  let running: Promise<void> = sample();
  const timer = setInterval(() => {
    running = running.then(sample, sample);
  }, POLL_MS);
  return {
    async stop(finished) {
      clearInterval(timer);
      await running.catch(() => undefined);
      if (finished) {
        emit({
          phase: 'pull',
          layersDone: layers.length,
          layersTotal: layers.length,
          bytesDone: bytesTotal ?? 0,
          ...(bytesTotal === undefined ? {} : { bytesTotal }),
        });
      }
    },
  };
}
