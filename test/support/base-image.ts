import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UID_BASE } from '../../packages/server/src/runtime/uid-map.js';
import { parseTemplateSpec, specHash } from '../../packages/server/src/templates/spec.js';
import { TEST_DATA_DIR } from './env.js';
import { type ImageConfigSpec, type MadeImage, makeImageFromTree } from './oci-image-maker.js';

/** The prebuilt `base` template's rootfs on the host (the set-up builds it). */
export function baseTemplateRootfs(): string {
  const specFile = join(fileURLToPath(new URL('../../templates/base.yaml', import.meta.url)));
  return join(TEST_DATA_DIR, 'templates', specHash(parseTemplateSpec(readFileSync(specFile, 'utf8'))), 'rootfs');
}

/**
 * The `base` template's files as an OCI image of one gzip layer (~90 MiB, ~6 s to make): a
 * real distribution that sandboxes run, made offline. `cleanup()` removes the layout.
 */
export function baseTemplateImage(options: { config?: ImageConfigSpec; padBytes?: number } = {}): Promise<MadeImage> {
  return makeImageFromTree({
    root: baseTemplateRootfs(),
    idShift: UID_BASE,
    config: options.config ?? {},
    ...(options.padBytes ? { padBytes: options.padBytes } : {}),
  });
}
