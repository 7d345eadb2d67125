/**
 * Test fixtures that build a network namespace joined by a veth take a /24 each; concurrent
 * fixtures (other suites, other helpers' test roots) must not take the same one. A lock dir
 * per /24 under `lockRoot` (mkdir is atomic) holds it; a dead holder's lock is taken over.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Takes the first of `prefixes` (e.g. `198.18.0`) no other live fixture holds; remove `lockDir` to free it. */
export function lockPrefix(options: {
  lockRoot: string;
  prefixes: readonly string[];
  owner: string;
  /** Called with a dead holder's lock dir before it is taken over (to remove what it left). */
  reclaim?: (lockDir: string) => void;
}): {
  prefix: string;
  index: number;
  lockDir: string;
} {
  mkdirSync(options.lockRoot, { recursive: true });
  for (const [index, prefix] of options.prefixes.entries()) {
    const lockDir = join(options.lockRoot, prefix);
    try {
      mkdirSync(lockDir);
    } catch {
      // A lock without a pid file is being taken right now (mkdir, then the pid): still held,
      // unless it is old enough that its maker died in between.
      const pidFile = join(lockDir, 'pid');
      const holder = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8') || '0') : -1;
      if (holder > 0 && pidAlive(holder)) continue;
      if (holder <= 0 && Date.now() - statSync(lockDir).mtimeMs < 60_000) continue;
      options.reclaim?.(lockDir);
      rmSync(lockDir, { recursive: true, force: true });
      try {
        mkdirSync(lockDir);
      } catch {
        continue;
      }
    }
    writeFileSync(join(lockDir, 'pid'), String(process.pid));
    return { prefix, index, lockDir };
  }
  throw new Error(`${options.owner}: every fixture address range is taken by live fixtures`);
}
