import { PaddockError } from '@paddock/protocol';
import type { SkopeoSource } from './skopeo-args.js';

/**
 * What a failed skopeo run means, from its (already scrubbed) output. skopeo exits 1 for
 * everything, so the words are all there is; the patterns are those skopeo 1.9 and
 * docker-registry 2.8 print (see test/unit/skopeo-errors.test.ts for the exact lines).
 */
export function skopeoError(options: { source: SkopeoSource; output: readonly string[] }): PaddockError {
  const { source } = options;
  const text = options.output.join('\n');
  const said = lastMessage(options.output);
  const registry = source.ref?.registry;
  const details = { ref: source.label, ...(registry === undefined ? {} : { registry }), skopeo: said };
  const mismatch = /Digest did not match, expected (sha256:[a-f0-9]+), got (sha256:[a-f0-9]+)/.exec(text);
  if (mismatch !== null || /digest mismatch/i.test(text)) {
    return new PaddockError(
      'TEMPLATE_BUILD_FAILED',
      `Pulling ${source.label} refused: a layer's digest did not match its content (expected ${mismatch?.[1] ?? 'another digest'}, got ${mismatch?.[2] ?? 'different content'}); nothing was kept`,
      { ...details, reason: 'digest-mismatch' },
    );
  }
  if (/server gave HTTP response to HTTPS client/.test(text)) {
    return new PaddockError(
      'INVALID_ARGUMENT',
      `Registry ${registry} answers plain HTTP, not HTTPS: set insecure: true to pull from it`,
      details,
    );
  }
  if (/x509:|certificate|tls: /i.test(text)) {
    return new PaddockError(
      'INVALID_ARGUMENT',
      `TLS verification of registry ${registry} failed (${said}): fix its certificate, or set insecure: true to skip verification`,
      details,
    );
  }
  if (
    /unauthorized|authentication required|invalid username\/password|incorrect username or password|denied|status 40[13]/i.test(
      text,
    )
  ) {
    return new PaddockError(
      'UNAUTHENTICATED',
      `Registry ${registry} refused the credentials for ${source.label} (missing or wrong username/password; some registries also say this for a repository that does not exist)`,
      details,
    );
  }
  if (
    /manifest unknown|name unknown|repository name not known|not found|no such file or directory|does not exist/i.test(
      text,
    )
  ) {
    return new PaddockError(
      'NOT_FOUND',
      `Image ${source.label} not found (unknown repository, tag or digest)`,
      details,
    );
  }
  if (
    /no image found in (manifest|image) (list|index) for architecture|choosing an image from manifest list/i.test(text)
  ) {
    return new PaddockError('INVALID_ARGUMENT', `Image ${source.label} has no linux/amd64 variant`, details);
  }
  if (
    /connection refused|no such host|i\/o timeout|network is unreachable|no route to host|connection reset|dial tcp/i.test(
      text,
    )
  ) {
    return new PaddockError('UNAVAILABLE', `Cannot reach registry ${registry ?? source.label}: ${said}`, details);
  }
  return new PaddockError('TEMPLATE_BUILD_FAILED', `Copying image ${source.label} failed: ${said}`, details);
}

/** skopeo's last `msg="…"` (logrus), or its last non-empty line. */
function lastMessage(output: readonly string[]): string {
  for (let i = output.length - 1; i >= 0; i--) {
    const line = output[i] ?? '';
    const msg = /msg="((?:[^"\\]|\\.)*)"/.exec(line);
    if (msg?.[1] !== undefined) return msg[1].replace(/\\"/g, '"');
    if (line.trim() !== '') return line.trim();
  }
  return 'skopeo failed without a message';
}
