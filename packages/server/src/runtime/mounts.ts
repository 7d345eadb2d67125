import { readFile } from 'node:fs/promises';
import { hostCommand } from './host-command.js';

/** Mount points at or below `prefix` (deepest first, so they can be unmounted in order). */
export async function mountsUnder(prefix: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
  const points = new Set<string>();
  for (const line of info.split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) continue;
    const point = unescapeMountPath(field);
    if (point === prefix || point.startsWith(base)) points.add(point);
  }
  return [...points].sort((a, b) => b.length - a.length);
}

/** Whether something is mounted exactly at `path`. */
export async function isMountPoint(path: string): Promise<boolean> {
  return (await mountsUnder(path)).includes(path);
}

/** Unmounts every mount at or below `prefix`, stacked mounts included. */
export async function unmountAll(prefix: string, signal?: AbortSignal): Promise<void> {
  // A path can carry stacked mounts; loop until mountinfo shows none (bounded).
  for (let round = 0; round < 8; round++) {
    const points = await mountsUnder(prefix);
    if (points.length === 0) return;
    for (const point of points) {
      try {
        await hostCommand('umount', ['--', point], { signal });
      } catch (error) {
        signal?.throwIfAborted();
        // Busy (a process of a dead sandbox still holds it): detach it lazily instead.
        await hostCommand('umount', ['--lazy', '--', point], { signal }).catch(() => {
          throw error;
        });
      }
    }
  }
  const left = await mountsUnder(prefix);
  if (left.length > 0) throw new Error(`mounts left under ${prefix}: ${left.join(', ')}`);
}

/** Mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}
