import { PaddockError } from '@paddock/protocol';

/**
 * An image reference normalized the way Docker does it: `python:3.12-slim` is
 * `docker.io/library/python:3.12-slim`, a first component with a `.` or `:` (or `localhost`)
 * is a registry host, no tag and no digest means `latest`.
 */
export interface ImageRef {
  /** `docker.io`, `registry:5000`, `198.18.20.10:5000`. */
  registry: string;
  /** `library/python`, `team/agent`. */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>`; when present it pins the image and the tag is informational. */
  digest?: string;
  /** `registry/repository[:tag][@digest]`, the fully qualified form. */
  canonical: string;
}

const DOCKER_HUB = 'docker.io';
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST =
  /^(?:\[[a-fA-F0-9:]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::\d{1,5})?$/;
/** Docker's limit on `registry/repository`. */
const MAX_NAME_CHARS = 255;

function invalid(ref: string, why: string): PaddockError {
  return new PaddockError('INVALID_ARGUMENT', `Invalid image reference "${ref}": ${why}`, { ref });
}

/** Parses and normalizes an image reference; throws INVALID_ARGUMENT naming the reference. */
export function parseImageRef(ref: string): ImageRef {
  if (ref.trim() !== ref || ref === '') throw invalid(ref, 'it is empty or has surrounding spaces');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(ref, 'a digest must be sha256: followed by 64 lowercase hex digits');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref, `"${tag}" is not a valid tag (letters, digits, _ . -, at most 128)`);
  }
  const parts = rest.split('/');
  const first = parts[0] ?? '';
  let registry = DOCKER_HUB;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    if (!HOST.test(first)) throw invalid(ref, `"${first}" is not a valid registry host`);
    registry = first === 'index.docker.io' ? DOCKER_HUB : first;
    parts.shift();
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  for (const part of parts) {
    if (!PATH_COMPONENT.test(part)) {
      throw invalid(ref, `"${part}" is not a valid repository name component (lowercase letters, digits, . _ -)`);
    }
  }
  const repository = parts.join('/');
  if (`${registry}/${repository}`.length > MAX_NAME_CHARS) throw invalid(ref, 'the name is longer than 255 characters');
  if (tag === undefined && digest === undefined) tag = 'latest';
  const canonical = `${registry}/${repository}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`;
  return {
    registry,
    repository,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
    canonical,
  };
}

/**
 * The `docker://` reference skopeo gets. containers/image refuses a tag together with a digest,
 * so a pinned reference goes by its digest alone (Docker's semantics: the digest wins).
 */
export function dockerTransportRef(ref: ImageRef): string {
  const pin = ref.digest === undefined ? `:${ref.tag ?? 'latest'}` : `@${ref.digest}`;
  return `docker://${ref.registry}/${ref.repository}${pin}`;
}
