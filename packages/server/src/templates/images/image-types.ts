/**
 * The contract between the image parts of the template system: where an image comes from
 * (`ImageSource`), how a pull reports progress, and what an image's config means for a
 * template (`ImageConfig`). Transfer (skopeo into the shared OCI layout), unpacking (layers →
 * a uid-shifted rootfs) and the builders all speak these types.
 */

/** Registry credentials, given per build; never stored, never logged, never sent to a sandbox. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** Where an image comes from. */
export type ImageSource =
  /** `registry:5000/team/agent:1.4`, `python:3.12-slim`, `…@sha256:…`. */
  | { kind: 'registry'; ref: string; insecure?: boolean; credentials?: RegistryCredentials; authFile?: string }
  /** A `docker save` tarball on the server's disk. */
  | { kind: 'docker-archive'; path: string }
  /** An OCI layout packed as a tar. */
  | { kind: 'oci-archive'; path: string }
  /** An OCI layout directory. */
  | { kind: 'oci-dir'; path: string };

/** Progress of a pull or an unpack, for the CLI and the build event stream. */
export interface ImageProgress {
  phase: 'pull' | 'unpack';
  /** Layers finished so far, and in all. */
  layersDone: number;
  layersTotal: number;
  /** Bytes (compressed, as transferred) done so far, and in all when known. */
  bytesDone: number;
  bytesTotal?: number;
}

/** What of an image's config a template keeps as its defaults. */
export interface ImageConfig {
  env: Record<string, string>;
  workdir?: string;
  /** `User` as the image gives it: a name, a uid, or `uid:gid`. */
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
}

/** One image in the shared layout, found by its manifest digest (`sha256:…`). */
export interface StoredImage {
  manifestDigest: string;
  configDigest: string;
  layers: { digest: string; mediaType: string; size: number }[];
  /** Uncompressed layer digests, from the config's `rootfs.diff_ids`. */
  diffIds: string[];
  config: ImageConfig;
}
