import { PaddockError } from '@paddock/protocol';
import { dockerTransportRef, type ImageRef, parseImageRef } from './image-ref.js';
import type { ImageSource } from './image-types.js';

/** Every image becomes linux/amd64: an index yields that manifest, nothing else runs here. */
const PLATFORM_ARGS = ['--override-os', 'linux', '--override-arch', 'amd64'] as const;

/** A source resolved for skopeo: its transport reference and, for a registry, the parsed ref. */
export interface SkopeoSource {
  transportRef: string;
  /** What error messages call the image: the canonical ref or the path. */
  label: string;
  ref?: ImageRef;
  insecure: boolean;
}

/** Checks the source and turns it into a skopeo transport reference (INVALID_ARGUMENT when it is bad). */
export function resolveSource(source: ImageSource): SkopeoSource {
  if (source.kind === 'registry') {
    const ref = parseImageRef(source.ref);
    return { transportRef: dockerTransportRef(ref), label: ref.canonical, ref, insecure: source.insecure === true };
  }
  // skopeo splits `transport:path:reference` at colons; a path with one would be misread.
  if (!source.path.startsWith('/') || source.path.includes(':')) {
    throw new PaddockError('INVALID_ARGUMENT', `The ${source.kind} path must be absolute and contain no ":"`, {
      path: source.path,
    });
  }
  const transport = { 'docker-archive': 'docker-archive', 'oci-archive': 'oci-archive', 'oci-dir': 'oci' }[source.kind];
  return { transportRef: `${transport}:${source.path}`, label: source.path, insecure: false };
}

/** argv of `skopeo copy` from the source into `oci:LAYOUT:TAG`. */
export function copyArgs(options: {
  source: SkopeoSource;
  layoutDir: string;
  tag: string;
  digestFile: string;
  authFile?: string;
}): string[] {
  const { source } = options;
  return [
    'copy',
    ...PLATFORM_ARGS,
    ...(options.authFile === undefined ? [] : ['--authfile', options.authFile]),
    ...(source.insecure ? ['--src-tls-verify=false'] : []),
    // The layout keeps the image exactly as served: a pinned digest stays the digest, layers are
    // not recompressed, and a Docker v2s2 manifest stays v2s2 (readers must accept both kinds).
    '--preserve-digests',
    '--digestfile',
    options.digestFile,
    source.transportRef,
    `oci:${options.layoutDir}:${options.tag}`,
  ];
}

/**
 * argv of `skopeo inspect --raw` (the manifest or index as stored, for sizes); `digest`
 * inspects one manifest of a registry image's index. `inspect` spells the TLS flag without `src-`.
 */
export function inspectRawArgs(options: { source: SkopeoSource; authFile?: string; digest?: string }): string[] {
  const { source } = options;
  let target = source.transportRef;
  if (options.digest !== undefined && source.ref !== undefined) {
    target = `docker://${source.ref.registry}/${source.ref.repository}@${options.digest}`;
  }
  return [
    'inspect',
    '--raw',
    ...(options.authFile === undefined ? [] : ['--authfile', options.authFile]),
    ...(source.insecure ? ['--tls-verify=false'] : []),
    target,
  ];
}
