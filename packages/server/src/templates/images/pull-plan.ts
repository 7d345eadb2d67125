import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runProcess } from '../process.js';
import { inspectRawArgs, type SkopeoSource } from './skopeo-args.js';
import { skopeoError } from './skopeo-errors.js';

/** The layers a pull will bring (compressed, as transferred), for progress. */
export interface PullPlan {
  layers: { digest: string; size: number }[];
}

interface RawDocument {
  mediaType?: string;
  manifests?: { digest: string; platform?: { os?: string; architecture?: string } }[];
  layers?: { digest: string; size: number }[];
}

/**
 * Reads the image's manifest before the copy (`skopeo inspect --raw`; skopeo 1.9's inspect
 * has no per-layer sizes otherwise). An index is resolved to its linux/amd64 manifest, like the
 * copy does. This is also the cheap first contact: a wrong ref or password fails here, before
 * the layout's lock is taken. Undefined when the sizes cannot be known (an index in an archive).
 */
export async function readPullPlan(options: {
  source: SkopeoSource;
  authFile?: string;
  env: Record<string, string>;
  signal?: AbortSignal;
}): Promise<PullPlan | undefined> {
  const { source } = options;
  const inspect = async (digest?: string): Promise<RawDocument> => {
    const args = inspectRawArgs({
      source,
      ...(options.authFile === undefined ? {} : { authFile: options.authFile }),
      ...(digest === undefined ? {} : { digest }),
    });
    const lines: string[] = [];
    const result = await runProcess({
      file: 'skopeo',
      // skopeo 1.9 ignores TMPDIR for archive sources and would leave /var/tmp/oci* behind.
      args: ['--tmpdir', options.env.TMPDIR ?? '/var/tmp', ...args],
      env: options.env,
      signal: options.signal,
      onLine: (line) => lines.push(line),
      tailLines: 10,
    });
    if (result.exitCode !== 0) throw skopeoError({ source, output: result.tail });
    return JSON.parse(lines.join('\n')) as RawDocument;
  };
  let document = await inspect();
  if (document.manifests !== undefined) {
    const amd64 = document.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64');
    // No amd64 entry: the copy itself reports that, with skopeo's words.
    if (amd64 === undefined) return undefined;
    if (source.ref !== undefined) document = await inspect(amd64.digest);
    else if (source.transportRef.startsWith('oci:')) {
      const dir = source.transportRef.slice('oci:'.length);
      const blob = join(dir, 'blobs', 'sha256', amd64.digest.replace(/^sha256:/, ''));
      document = JSON.parse(await readFile(blob, 'utf8')) as RawDocument;
    } else return undefined;
  }
  return { layers: (document.layers ?? []).map(({ digest, size }) => ({ digest, size })) };
}
