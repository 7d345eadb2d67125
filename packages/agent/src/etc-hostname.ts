import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { log } from './log.js';

/**
 * Makes `/etc/hostname` name this sandbox (its UTS hostname, set by the runtime) instead of
 * the machine that built the template, which a template's rootfs would otherwise show every
 * sandbox. Done once, before the agent listens, so that the first command already sees it
 * (a read and, once per sandbox, a small write: well under a millisecond). A read-only root
 * is left as it is.
 */
export function syncEtcHostname(): void {
  const name = hostname();
  try {
    let current = '';
    try {
      current = readFileSync('/etc/hostname', 'utf8').trim();
    } catch {
      // Absent: written below.
    }
    if (current !== name) writeFileSync('/etc/hostname', `${name}\n`, { mode: 0o644 });
  } catch (err) {
    log.warn('cannot write /etc/hostname', { err });
  }
}
