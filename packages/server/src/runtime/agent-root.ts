import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { hostCommand } from './host-command.js';

/** Host files that make up /opt/paddock inside every sandbox. */
export interface AgentSources {
  node: string;
  tini: string;
  /** The bundled agent (one file). */
  agentBundle: string;
}

/**
 * Prepares `<base>/<version>/` once: bin/node, bin/tini, lib/ (ld.so and every library node
 * links), agent.js, and returns it. The version is a hash of the sources' identity (path,
 * size, mtime, inode), so a new agent build or Node upgrade gets a fresh dir while running
 * sandboxes keep the one they mounted; later calls cost three stat()s. Files are hard links
 * where the data dir shares the sources' filesystem (no 100 MB copy of node), copies otherwise.
 */
export class AgentRoot {
  private ready = new Map<string, Promise<string>>();

  constructor(
    private readonly base: string,
    private readonly sources: AgentSources,
  ) {}

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
    for (const path of [this.sources.node, this.sources.tini, this.sources.agentBundle]) {
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
