import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { log } from './log.js';

/**
 * Makes `/etc/hostname` name this sandbox (its UTS hostname, set by the runtime) instead of
 * the machine that built the template, which a template's rootfs would otherwise show every
 * sandbox. Done once at start, off the ready path; a read-only root is left as it is.
 */
export async function syncEtcHostname(): Promise<void> {
  const name = hostname();
  try {
    if ((await readFile('/etc/hostname', 'utf8').catch(() => '')).trim() === name) return;
    await writeFile('/etc/hostname', `${name}\n`, { mode: 0o644 });
  } catch (err) {
    log.warn('cannot write /etc/hostname', { err });
  }
}
