import { PaddockError } from '@paddock/protocol';
import { parseMissingPackages } from './package-check.js';
import { runProcess } from './process.js';

/** The host's Debian sources, used as mmdebstrap's mirror spec (same mirror, suites and keys). */
export const HOST_SOURCES_FILE = '/etc/apt/sources.list.d/debian.sources';

/** Installed into every template: the agent, `exec` and user creation rely on them. */
export const ALWAYS_PACKAGES = ['bash', 'coreutils', 'procps', 'ca-certificates', 'passwd', 'login'] as const;

/**
 * mmdebstrap's argv. `minbase` plus no Recommends keeps templates small; man pages, info
 * and docs (except copyright files, which licences require) are never unpacked. The default
 * cleanup removes apt's lists and caches: run steps have no network, so apt inside a
 * template could not use them anyway.
 */
export function mmdebstrapArgs(options: { suite: string; packages: readonly string[]; target: string }): string[] {
  return [
    '--mode=root',
    '--format=directory',
    '--variant=minbase',
    `--include=${options.packages.join(',')}`,
    '--aptopt=APT::Install-Recommends "false"',
    '--dpkgopt=path-exclude=/usr/share/man/*',
    '--dpkgopt=path-exclude=/usr/share/info/*',
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-include=/usr/share/doc/*/copyright',
    options.suite,
    options.target,
    HOST_SOURCES_FILE,
  ];
}

/**
 * Builds a Debian root filesystem at `target`. mmdebstrap in root mode mounts /proc, /sys and
 * /dev inside the target; it runs in a private mount namespace so that a killed build
 * cannot leave those mounts on the host. `onLine` gets each output line.
 */
export async function runMmdebstrap(
  options: { suite: string; packages: readonly string[]; target: string },
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const result = await runProcess({
    file: 'unshare',
    args: ['--mount', '--propagation=private', '--', 'mmdebstrap', ...mmdebstrapArgs(options)],
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
    signal,
    onLine,
    tailLines: 400,
  });
  if (result.exitCode === 0) return;
  const missing = parseMissingPackages(result.tail);
  if (missing.length > 0) {
    throw new PaddockError(
      'TEMPLATE_BUILD_FAILED',
      `unknown Debian package${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`,
      {
        packages: missing,
      },
    );
  }
  throw new PaddockError(
    'TEMPLATE_BUILD_FAILED',
    `installing packages failed (mmdebstrap exit ${result.exitCode ?? result.exitSignal}):\n${result.tail.slice(-15).join('\n')}`,
    { output: result.tail.slice(-30) },
  );
}
