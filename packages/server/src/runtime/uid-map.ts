/**
 * Sandboxes run in a user namespace: uid/gid 0..65535 inside map to
 * UID_BASE..UID_BASE+65535 on the host, so root in a sandbox is an unprivileged host uid.
 * Template root filesystems are stored already shifted by UID_BASE (a file owned by root
 * inside is owned by UID_BASE on the host), which lets every sandbox share the template
 * read-only without per-sandbox chowns or idmapped mounts.
 */
export const UID_BASE = 100_000;
export const UID_COUNT = 65_536;

/** Host uid that stands for `uid` inside a sandbox. */
export function hostUid(uid: number): number {
  return UID_BASE + uid;
}
