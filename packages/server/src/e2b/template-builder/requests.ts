import { z } from 'zod';

/**
 * Bodies of E2B's template-builder calls (e2b 2.51.0, docs/e2b-protocol.md §5). Unknown fields
 * are ignored, as E2B's API does; a bad field is a 400 that names it (control-plane/requests.ts).
 */

/** `POST /v3/templates`: `name` may carry a tag (`my-env:v1`); `alias` is its deprecated twin. */
export const E2bRequestBuild = z.looseObject({
  name: z.string().min(1).max(128).optional(),
  alias: z.string().min(1).max(128).optional(),
  tags: z.array(z.string()).max(32).optional(),
  cpuCount: z.int().min(1).max(64).optional(),
  memoryMB: z
    .int()
    .min(128)
    .max(1024 * 1024)
    .optional(),
  minFreeDiskMb: z.int().min(0).optional(),
});
export type E2bRequestBuild = z.infer<typeof E2bRequestBuild>;

/** One builder call: `type` RUN/COPY/ENV/WORKDIR/USER, its `args`, COPY's `filesHash`. */
export const E2bStep = z.looseObject({
  type: z.string().min(1),
  args: z.array(z.string()).default([]),
  filesHash: z.string().optional(),
  force: z.boolean().optional(),
});
export type E2bStep = z.infer<typeof E2bStep>;

/** `fromImageRegistry`: E2B also has `aws` and `gcp`, which Paddock refuses by name. */
export const E2bImageRegistry = z.looseObject({
  type: z.string(),
  username: z.string().optional(),
  password: z.string().optional(),
});

/** `POST /v2/templates/{templateID}/builds/{buildID}` (`TemplateBuildStartV2`). */
export const E2bBuildStart = z.looseObject({
  fromImage: z.string().min(1).optional(),
  fromTemplate: z.string().min(1).optional(),
  fromImageRegistry: E2bImageRegistry.optional(),
  startCmd: z.string().optional(),
  readyCmd: z.string().optional(),
  steps: z.array(E2bStep).max(1000).default([]),
  force: z.boolean().optional(),
});
export type E2bBuildStart = z.infer<typeof E2bBuildStart>;

/** `POST /templates/tags`: `target` is `name:tag` (the build to tag), `tags` the new tags. */
export const E2bAssignTags = z.looseObject({
  target: z.string().min(1),
  tags: z.array(z.string()).min(1).max(32),
});

/** `DELETE /templates/tags`. */
export const E2bRemoveTags = z.looseObject({
  name: z.string().min(1),
  tags: z.array(z.string()).min(1).max(32),
});

/** `filesHash`: the SDK's SHA-256 of a COPY's sources, hex. */
export const FILES_HASH = /^[0-9a-f]{64}$/;
