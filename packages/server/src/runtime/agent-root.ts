import { createHash } from 'node:crypto';
import { copyFile, cp, link, mkdir, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { hostCommand } from './host-command.js';

/** Host files that make up /opt/paddock inside every sandbox. */
export interface AgentSources {
  node: string;
  tini: string;
  /** The bundled agent (one file). */
  agentBundle: string;
  /**
   * The node-pty package dir (its lib/ and build/Release/pty.node, built by `npm ci`).
   * Default: the one the agent package resolves; without it terminals are unavailable.
   */
  ptyModule?: string;
}

/**
 * Prepares `<base>/<version>/` once: bin/node, bin/tini, lib/ (ld.so and every library node
 * links), node_modules/node-pty (the agent's one native addon, which `require` finds beside
 * agent.js; it is built against this same Node), agent.js, and returns it. The version is a hash of the sources' identity (path,
 * size, mtime, inode), so a new agent build or Node upgrade gets a fresh dir while running
 * sandboxes keep the one they mounted; later calls cost three stat()s. Files are hard links
 * where the data dir shares the sources' filesystem (no 100 MB copy of node), copies otherwise.
 */
export class AgentRoot {
  private ready = new Map<string, Promise<string>>();

  private readonly ptyModule: string | undefined;

  constructor(
    private readonly base: string,
    private readonly sources: AgentSources,
  ) {
    this.ptyModule = sources.ptyModule ?? resolvePtyModule(sources.agentBundle);
  }

  async prepare(signal?: AbortSignal): Promise<string> {
    const version = await this.version();
    let pending = this.ready.get(version);
    if (!pending) {
      pending = this.build(join(this.base, version), signal);
      this.ready.set(version, pending);
      pending.catch(() => this.ready.delete(version));
    }
    return pending;
  }

  private async version(): Promise<string> {
    const hash = createHash('sha256');
    const ptyAddon = this.ptyModule === undefined ? [] : [join(this.ptyModule, PTY_ADDON)];
    const kernels = await kernelFiles(this.sources.agentBundle);
    for (const path of [this.sources.node, this.sources.tini, this.sources.agentBundle, ...ptyAddon, ...kernels]) {
      const real = await realpath(path);
      const st = await stat(real);
      hash.update(`${real}\0${st.size}\0${st.mtimeMs}\0${st.ino}\n`);
    }
    return hash.digest('hex').slice(0, 16);
  }

  private async build(dir: string, signal?: AbortSignal): Promise<string> {
    if (await exists(join(dir, 'agent.js'))) return dir;
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(join(tmp, 'bin'), { recursive: true });
    await mkdir(join(tmp, 'lib'));
    await place(this.sources.node, join(tmp, 'bin', 'node'));
    await place(this.sources.tini, join(tmp, 'bin', 'tini'));
    for (const lib of await sharedLibraries(this.sources.node, signal)) {
      const name = lib.loader ? 'ld-linux-x86-64.so.2' : basename(lib.path);
      await place(lib.path, join(tmp, 'lib', name));
    }
    if (this.ptyModule !== undefined) await placePtyModule(this.ptyModule, join(tmp, 'node_modules', 'node-pty'));
    // The code interpreter's kernel programs (/opt/paddock/kernels), built beside the bundle.
    const kernels = join(dirname(this.sources.agentBundle), 'kernels');
    if (await exists(kernels)) await cp(kernels, join(tmp, 'kernels'), { recursive: true });
    // Written last: its presence marks a finished dir.
    // Copied, not linked: a rebuild that rewrites the bundle in place must not reach running sandboxes.
    await copyFile(await realpath(this.sources.agentBundle), join(tmp, 'agent.js'));
    await rename(tmp, dir).catch(async (error: NodeJS.ErrnoException) => {
      // Another process finished the same version first.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      await rm(tmp, { recursive: true, force: true });
    });
    return dir;
  }
}

const PTY_ADDON = join('build', 'Release', 'pty.node');

/** node-pty as the agent package resolves it; undefined where it is not installed or not built. */
function resolvePtyModule(agentBundle: string): string | undefined {
  try {
    const dir = dirname(createRequire(agentBundle).resolve('node-pty/package.json'));
    return createRequire(join(dir, 'package.json')).resolve(`./${PTY_ADDON}`) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** What `require('node-pty')` loads on Linux: package.json, lib/*.js and the addon (~300 KB). */
async function placePtyModule(source: string, target: string): Promise<void> {
  await mkdir(join(target, 'build', 'Release'), { recursive: true });
  await copyFile(join(source, 'package.json'), join(target, 'package.json'));
  await cp(join(source, 'lib'), join(target, 'lib'), {
    recursive: true,
    filter: (path) => !path.endsWith('.map') && !path.endsWith('.test.js'),
  });
  // Copied, not linked, like agent.js: a rebuild in place must not reach running sandboxes.
  await copyFile(await realpath(join(source, PTY_ADDON)), join(target, PTY_ADDON));
}

/** The kernel programs beside the agent bundle (none in a build without them). */
async function kernelFiles(agentBundle: string): Promise<string[]> {
  const dir = join(dirname(agentBundle), 'kernels');
  try {
    return (await readdir(dir)).sort().map((name) => join(dir, name));
  } catch {
    return [];
  }
}

/** Libraries `ldd` resolves for a binary, plus its dynamic loader. */
async function sharedLibraries(binary: string, signal?: AbortSignal): Promise<{ path: string; loader: boolean }[]> {
  const out = await hostCommand('ldd', [binary], { signal });
  const libs: { path: string; loader: boolean }[] = [];
  for (const line of out.split('\n')) {
    const linked = /=>\s+(\/\S+)/.exec(line)?.[1];
    if (linked) {
      libs.push({ path: linked, loader: false });
      continue;
    }
    const loader = /^\s*(\/\S*ld-linux\S*)/.exec(line)?.[1];
    if (loader) libs.push({ path: loader, loader: true });
  }
  if (!libs.some((lib) => lib.loader)) throw new Error(`no dynamic loader in ldd ${binary}`);
  return libs;
}

async function place(source: string, target: string): Promise<void> {
  const real = await realpath(source);
  try {
    await link(real, target);
  } catch {
    await copyFile(real, target);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
