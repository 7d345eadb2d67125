import { readFileSync, renameSync, writeFileSync } from 'node:fs';

/** The kernel's id of the running boot: a new random UUID at every boot. */
const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

function kernelBootId(): string | undefined {
  try {
    return readFileSync(BOOT_ID_FILE, 'utf8').trim();
  } catch {
    return undefined; // not Linux, or /proc hidden: reboots go unnoticed (reasons say `restart`)
  }
}

/**
 * Whether the host rebooted since the server last recorded its boot in `file` (in the data
 * dir), so that reconcile can tell a reboot (every running sandbox gone) from a crash. A first
 * start is no reboot. `record` stores this boot: call it once reconcile has used the answer,
 * so that a crash during reconcile still sees the reboot at the next start.
 */
export function hostBoot(file: string, bootId: () => string | undefined = kernelBootId) {
  const now = bootId();
  let before: string | undefined;
  try {
    before = readFileSync(file, 'utf8').trim();
  } catch {
    before = undefined;
  }
  return {
    rebooted: now !== undefined && before !== undefined && before !== now,
    record(): void {
      if (now === undefined || now === before) return;
      writeFileSync(`${file}.tmp`, `${now}\n`);
      renameSync(`${file}.tmp`, file);
    },
  };
}
